package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"

	"github.com/rolehop/rolehop/saml/samlverify"
)

// maxMetadataSize bounds the IdP metadata read from a file or URL.
const maxMetadataSize = 1 << 20

// IdP is the identity provider the broker trusts, as its SAML metadata
// describes it.
type IdP struct {
	// EntityID is the IdP's entity ID: the Issuer of its assertions.
	EntityID string
	// Certs are its signing certificates.
	Certs []*x509.Certificate
	// SSOURL is its SingleSignOnService for the HTTP-Redirect binding,
	// where AuthnRequests are sent.
	SSOURL string
}

// ParseIdPMetadata reads an IdP's SAML metadata: the entity ID and signing
// certificates (through samlverify.ParseIdP, the same reading the verifier
// trusts) and the HTTP-Redirect SingleSignOnService, which must be https
// (http only on loopback).
func ParseIdPMetadata(b []byte) (*IdP, error) {
	if len(b) > maxMetadataSize {
		return nil, fmt.Errorf("idp metadata larger than %d bytes", maxMetadataSize)
	}
	entityID, certs, err := samlverify.ParseIdP(b)
	if err != nil {
		return nil, err
	}
	if entityID == "" {
		return nil, errors.New("idp metadata has no entityID (a bare certificate is not enough: the broker needs the IdP's SSO URL too)")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, fmt.Errorf("parse idp metadata: %w", err)
	}
	var sso string
	for _, ed := range doc.FindElements("//EntityDescriptor") {
		if strings.TrimSpace(ed.SelectAttrValue("entityID", "")) != entityID {
			continue
		}
		for _, s := range ed.FindElements("./IDPSSODescriptor/SingleSignOnService") {
			if s.SelectAttrValue("Binding", "") == crewsaml.HTTPRedirectBinding {
				sso = strings.TrimSpace(s.SelectAttrValue("Location", ""))
				break
			}
		}
		break
	}
	if sso == "" {
		return nil, fmt.Errorf("idp metadata of %s has no SingleSignOnService with the HTTP-Redirect binding", clip(entityID))
	}
	u, err := url.Parse(sso)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return nil, fmt.Errorf("idp SingleSignOnService %q is not an https URL", clip(sso))
	}
	return &IdP{EntityID: entityID, Certs: certs, SSOURL: sso}, nil
}

// LoadIdP reads the IdP metadata the configuration names: from the file
// (which must be owned by this user or root and not writable by others) or
// from the URL (https, or http on loopback; at most 1 MiB, 10 seconds).
func LoadIdP(ctx context.Context, c *Config, client *http.Client) (*IdP, error) {
	var b []byte
	var err error
	if c.IdP.MetadataFile != "" {
		b, err = readTrusted(c.IdP.MetadataFile, false, maxMetadataSize)
		if err != nil {
			return nil, fmt.Errorf("idp.metadata_file: %w", err)
		}
	} else {
		b, err = fetchMetadata(ctx, c.IdP.MetadataURL, client)
		if err != nil {
			return nil, fmt.Errorf("idp.metadata_url: %w", err)
		}
	}
	idp, err := ParseIdPMetadata(b)
	if err != nil {
		where := c.IdP.MetadataFile
		if where == "" {
			where = c.IdP.MetadataURL
		}
		return nil, fmt.Errorf("idp metadata %s: %w", where, err)
	}
	return idp, nil
}

func fetchMetadata(ctx context.Context, u string, client *http.Client) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: HTTP %d", u, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	if len(b) > maxMetadataSize {
		return nil, fmt.Errorf("fetch %s: larger than %d bytes", u, maxMetadataSize)
	}
	return b, nil
}

// sp is the broker's SAML service provider side: crewjam/saml builds its
// metadata and AuthnRequests; assertions are checked by samlverify.Verify only.
type sp struct {
	crew     *crewsaml.ServiceProvider
	idp      *IdP
	acs      string
	metadata []byte
}

func newSP(c *Config, idp *IdP) (*sp, error) {
	acs := c.ExternalURL.String() + "/saml/acs"
	acsURL, _ := url.Parse(acs)
	mdURL, _ := url.Parse(c.ExternalURL.String() + "/saml/metadata")
	crew := &crewsaml.ServiceProvider{
		EntityID:                         c.EntityID,
		AcsURL:                           *acsURL,
		MetadataURL:                      *mdURL,
		AuthnNameIDFormat:                crewsaml.NameIDFormat(nameIDFormats[c.IdP.NameIDFormat]),
		SendUnspecifiedNameIDFormat:      true,
		AssertionConsumerServiceBindings: []string{crewsaml.HTTPPostBinding},
		MetadataOmitValidUntil:           true,
		IDPMetadata:                      idpMetadata(idp),
	}
	md := crew.Metadata()
	// Ask for the attributes the broker reads, so that an IdP that
	// releases only requested attributes (SimpleSAMLphp's
	// AttributeLimit, Shibboleth's attribute filter) releases them.
	req := []crewsaml.RequestedAttribute{{Attribute: crewsaml.Attribute{Name: c.IdP.GroupsAttribute}}}
	if c.IdP.UserAttribute != "" && c.IdP.UserAttribute != c.IdP.GroupsAttribute {
		yes := true
		req = append(req, crewsaml.RequestedAttribute{Attribute: crewsaml.Attribute{Name: c.IdP.UserAttribute}, IsRequired: &yes})
	}
	isDefault := true
	md.SPSSODescriptors[0].AttributeConsumingServices = []crewsaml.AttributeConsumingService{{
		Index:               1,
		IsDefault:           &isDefault,
		ServiceNames:        []crewsaml.LocalizedName{{Lang: "en", Value: c.Title}},
		RequestedAttributes: req,
	}}
	b, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sp metadata: %w", err)
	}
	return &sp{crew: crew, idp: idp, acs: acs, metadata: append([]byte(xml.Header), b...)}, nil
}

func idpMetadata(idp *IdP) *crewsaml.EntityDescriptor {
	var d crewsaml.IDPSSODescriptor
	d.SingleSignOnServices = []crewsaml.Endpoint{{Binding: crewsaml.HTTPRedirectBinding, Location: idp.SSOURL}}
	return &crewsaml.EntityDescriptor{EntityID: idp.EntityID, IDPSSODescriptors: []crewsaml.IDPSSODescriptor{d}}
}

// authnRequest returns the IdP URL of a new AuthnRequest (HTTP-Redirect
// binding) carrying relayState, and the request's ID.
func (s *sp) authnRequest(relayState string) (string, string, error) {
	req, err := s.crew.MakeAuthenticationRequest(s.idp.SSOURL, crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
	if err != nil {
		return "", "", err
	}
	u, err := req.Redirect(relayState, s.crew)
	if err != nil {
		return "", "", err
	}
	return u.String(), req.ID, nil
}

// readTrusted reads a file only if it can be trusted: a regular file (a
// symlink is followed only when it, too, is owned by this user or root,
// as Kubernetes mounts are), owned by this user or root, not writable by
// group or others, and, for a secret, not readable by others either.
func readTrusted(path string, secret bool, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := checkTrusted(path, f, secret); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// TLSCerts is the certificate the broker serves. Reload reads the files
// again (rolehop broker does on SIGHUP), so that a renewed certificate is
// served without a restart; connections get whichever is current.
type TLSCerts struct {
	cur atomic.Pointer[tls.Certificate]
}

// LoadTLS reads the configuration's certificate and key. The key file must
// be the broker's or root's and readable by nobody else.
func LoadTLS(c *Config) (*TLSCerts, error) {
	tc := &TLSCerts{}
	if err := tc.Reload(c); err != nil {
		return nil, err
	}
	return tc, nil
}

// Reload reads c's certificate and key files again; on error the current
// certificate stays.
func (tc *TLSCerts) Reload(c *Config) error {
	certPEM, err := readTrusted(c.TLSCertFile, false, 1<<20)
	if err != nil {
		return fmt.Errorf("tls_cert_file: %w", err)
	}
	keyPEM, err := readTrusted(c.TLSKeyFile, true, 1<<20)
	if err != nil {
		return fmt.Errorf("tls_key_file: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("tls_cert_file/tls_key_file: %w", err)
	}
	tc.cur.Store(&cert)
	return nil
}

// Config is the server's TLS configuration: TLS 1.2 or later, the current
// certificate.
func (tc *TLSCerts) Config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return tc.cur.Load(), nil
	}}
}

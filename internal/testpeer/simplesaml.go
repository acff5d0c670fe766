package testpeer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// simpleSAMLWWW is where Debian's simplesamlphp package installs its web root.
const simpleSAMLWWW = "/usr/share/simplesamlphp/www"

// AWSEntityID is the SAML entity ID of AWS's sign-in service provider.
const AWSEntityID = "urn:amazon:webservices"

// AWSACS is the assertion consumer service URL of AWS's sign-in SP.
const AWSACS = "https://signin.aws.amazon.com/saml"

// SimpleSAML is a running SimpleSAMLphp IdP (served by `php -S`).
//
// Users (exampleauth:UserPass):
//   - alice / alicepass: groups admins, dev → roles Admin and Dev in every
//     account, Role values in "role,principal" order;
//   - bob / bobpass: group dev → role Dev, values in "principal,role" order;
//   - carol / carolpass: no groups → no Role attribute at all.
//
// A Role value is "arn:aws:iam::ACCT:role/Admin,arn:aws:iam::ACCT:saml-provider/NAME".
// RoleSessionName is the uid, SessionDuration 3600, the NameID persistent
// (the uid). Response and Assertion are both signed with RSA-SHA256.
type SimpleSAML struct {
	BaseURL     string // "http://127.0.0.1:PORT/simplesaml"
	EntityID    string // IdP entity ID (== MetadataURL)
	MetadataURL string // BaseURL + "/saml2/idp/metadata.php"
	AWSLoginURL string // IdP-initiated SSO for SP urn:amazon:webservices
	CertPEM     []byte // IdP signing certificate (PEM)
	Dir         string

	p *proc
}

// SimpleSAMLOptions configures the IdP. The zero value works.
type SimpleSAMLOptions struct {
	Accounts       []string // accounts whose roles are granted; default {"111111111111"}
	ProviderName   string   // saml-provider name in the principal ARN; default "SimpleSAML"
	BrokerEntityID string   // optional second SP (the broker): entity ID and ACS URL;
	BrokerACS      string   //   releases uid, mail, groups (basic attribute names), transient NameID
	// AssertionLifetime is how long the AWS SP's assertions are valid
	// (SimpleSAMLphp's assertion.lifetime); 0 keeps its default, 5 minutes.
	AssertionLifetime time.Duration
	// RegisterSPs makes the IdP read service providers from SAML metadata
	// handed to RegisterSP (as an IdP administrator imports an SP's
	// metadata), and build persistent NameIDs from uid and e-mail NameIDs
	// from mail for them.
	RegisterSPs bool
}

// NewSimpleSAML starts a fresh IdP with its files in t.TempDir() and stops it
// in t.Cleanup. Missing packages skip the test (fail it when CI=true).
func NewSimpleSAML(t testing.TB, opts SimpleSAMLOptions) *SimpleSAML {
	t.Helper()
	s, err := StartSimpleSAML(context.Background(), t.TempDir(), opts)
	if err != nil {
		fatalOrMissing(t, "start SimpleSAMLphp", err)
		return nil
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop SimpleSAMLphp: %v", err)
		}
	})
	return s
}

var (
	accountRE  = regexp.MustCompile(`^[0-9]{12}$`)
	providerRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
)

// StartSimpleSAML writes a private SimpleSAMLphp configuration (with a fresh
// RSA-2048 signing key) under dir, serves it with `php -S` on a free loopback
// port and waits until the IdP metadata answers 200. ctx bounds only the
// start; the server runs until Stop.
func StartSimpleSAML(ctx context.Context, dir string, opts SimpleSAMLOptions) (*SimpleSAML, error) {
	php, err := findSystemBin("php", "php-cli")
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(simpleSAMLWWW, "index.php")); err != nil {
		return nil, fmt.Errorf("%s missing (Debian package simplesamlphp): %w", simpleSAMLWWW, ErrMissing)
	}
	// php-xml is not a dependency of the simplesamlphp package; without it
	// every page fails with `Class "DOMDocument" not found`.
	if err := exec.CommandContext(ctx, php, "-r", `exit(extension_loaded("dom") && extension_loaded("mbstring") ? 0 : 1);`).Run(); err != nil {
		return nil, fmt.Errorf("php lacks the dom or mbstring extension (Debian packages php-xml, php-mbstring): %w", ErrMissing)
	}
	if len(opts.Accounts) == 0 {
		opts.Accounts = []string{"111111111111"}
	}
	for _, a := range opts.Accounts {
		if !accountRE.MatchString(a) {
			return nil, fmt.Errorf("simplesaml account %q: want 12 digits", a)
		}
	}
	if opts.ProviderName == "" {
		opts.ProviderName = "SimpleSAML"
	}
	if !providerRE.MatchString(opts.ProviderName) {
		return nil, fmt.Errorf("simplesaml provider name %q: want 1-128 of [A-Za-z0-9._-]", opts.ProviderName)
	}
	if (opts.BrokerEntityID == "") != (opts.BrokerACS == "") {
		return nil, errors.New("simplesaml broker SP: set both BrokerEntityID and BrokerACS, or neither")
	}

	s := &SimpleSAML{Dir: dir}
	for _, d := range []string{"config", "metadata", "cert", "log", "tmp", "data", "sessions", "docroot"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("create SimpleSAMLphp folder: %w", err)
		}
	}
	link := filepath.Join(dir, "docroot", "simplesaml")
	_ = os.Remove(link)
	if err := os.Symlink(simpleSAMLWWW, link); err != nil {
		return nil, fmt.Errorf("link SimpleSAMLphp web root: %w", err)
	}
	keyPEM, certPEM, err := selfSignedCert("simplesamlphp-idp-127.0.0.1")
	if err != nil {
		return nil, err
	}
	s.CertPEM = certPEM
	if err := os.WriteFile(filepath.Join(dir, "cert", "idp.key"), keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write IdP key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert", "idp.crt"), certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write IdP cert: %w", err)
	}

	p, err := startWithRetry(ctx, func(int) (*proc, error) {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.BaseURL = fmt.Sprintf("http://127.0.0.1:%d/simplesaml", port)
		s.MetadataURL = s.BaseURL + "/saml2/idp/metadata.php"
		s.EntityID = s.MetadataURL
		s.AWSLoginURL = s.BaseURL + "/saml2/idp/SSOService.php?spentityid=urn%3Aamazon%3Awebservices"
		if err := writeSimpleSAMLConfig(dir, s, opts); err != nil {
			return nil, err
		}
		p, err := startProc("simplesamlphp", php,
			[]string{"-S", "127.0.0.1:" + itoa(port), "-t", filepath.Join(dir, "docroot")},
			[]string{"SIMPLESAMLPHP_CONFIG_DIR=" + filepath.Join(dir, "config")},
			dir, filepath.Join(dir, "log", "php-server.log"))
		if err != nil {
			return nil, err
		}
		return p, p.waitReady(ctx, func(ctx context.Context) error { return httpOK(ctx, s.MetadataURL) })
	})
	if err != nil {
		return nil, err
	}
	s.p = p
	return s, nil
}

// Stop stops the IdP. It is safe to call more than once.
func (s *SimpleSAML) Stop() error {
	if s == nil || s.p == nil {
		return nil
	}
	return s.p.stop()
}

// selfSignedCert returns a PKCS#8 RSA-2048 key and a self-signed certificate
// valid for ten years, both PEM.
// OtherCertPEM is a self-signed certificate of a fresh key no peer signs
// with: what a test trusts to see a genuine IdP's signature refused.
func OtherCertPEM(t testing.TB) []byte {
	t.Helper()
	_, cert, err := selfSignedCert("other-idp")
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func selfSignedCert(cn string) (keyPEM, certPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generate IdP key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("generate IdP cert serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create IdP cert: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode IdP key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// phpQ quotes s as a PHP single-quoted string literal.
func phpQ(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func writeSimpleSAMLConfig(dir string, s *SimpleSAML, opts SimpleSAMLOptions) error {
	d := func(sub string) string { return phpQ(filepath.Join(dir, sub) + "/") }
	registeredSource := ""
	nameIDs := ""
	if opts.RegisterSPs {
		registeredSource = `, ['type' => 'xml', 'file' => ` + phpQ(filepath.Join(dir, "metadata", registeredSPsFile)) + `]`
		// Before core:AttributeLimit (90) drops uid and mail.
		nameIDs = `
    'authproc' => [
        20 => ['class' => 'saml:AttributeNameID', 'attribute' => 'uid', 'Format' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
        21 => ['class' => 'saml:AttributeNameID', 'attribute' => 'mail', 'Format' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
    ],`
		if err := os.WriteFile(filepath.Join(dir, "metadata", registeredSPsFile), []byte(placeholderSP), 0o600); err != nil {
			return fmt.Errorf("write SimpleSAMLphp %s: %w", registeredSPsFile, err)
		}
	}
	config := `<?php
$config = [
    'baseurlpath'  => ` + phpQ(s.BaseURL+"/") + `,
    'certdir'      => ` + d("cert") + `,
    'loggingdir'   => ` + d("log") + `,
    'datadir'      => ` + d("data") + `,
    'tempdir'      => ` + phpQ(filepath.Join(dir, "tmp")) + `,
    'metadatadir'  => ` + d("metadata") + `,
    'secretsalt'   => ` + phpQ(randomHex(20)) + `,
    'auth.adminpassword' => ` + phpQ(randomHex(12)) + `,
    'admin.protectindexpage' => false,
    'admin.protectmetadata'  => false,
    'technicalcontact_name'  => 'Test',
    'technicalcontact_email' => 'test@example.org',
    'timezone' => 'UTC',
    'logging.level'   => SimpleSAML\Logger::INFO,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'showerrors' => true,
    'errorreporting' => false,
    'enable.saml20-idp' => true,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true, 'admin' => true],
    'store.type' => 'phpsession',
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'session.phpsession.savepath' => ` + phpQ(filepath.Join(dir, "sessions")) + `,
    'language.default' => 'en',
    'metadata.sources' => [['type' => 'flatfile']` + registeredSource + `],
    // without AttributeLimit every attribute leaks to every SP
    'authproc.idp' => [90 => 'core:AttributeLimit'],
];
`
	// roleorder is consulted by the AWS SP's authproc and then dropped by
	// core:AttributeLimit: it makes bob's Role values come principal first.
	authsources := `<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
        'alice:alicepass' => ['uid' => ['alice'], 'mail' => ['alice@example.org'], 'groups' => ['admins', 'dev']],
        'bob:bobpass'     => ['uid' => ['bob'],   'mail' => ['bob@example.org'],   'groups' => ['dev'], 'roleorder' => ['principal,role']],
        'carol:carolpass' => ['uid' => ['carol'], 'mail' => ['carol@example.org']],
    ],
];
`
	idpHosted := `<?php
$metadata[` + phpQ(s.EntityID) + `] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'example-userpass',
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,` + nameIDs + `
];
`
	accts := make([]string, len(opts.Accounts))
	for i, a := range opts.Accounts {
		accts[i] = `"` + a + `"` // validated: 12 digits
	}
	// The code runs inside a PHP single-quoted string: it uses only double
	// quotes, and its inputs are validated above.
	code := `
        $accounts = [` + strings.Join(accts, ", ") + `]; $providerName = "` + opts.ProviderName + `";
        $principalFirst = in_array("principal,role", $attributes["roleorder"] ?? [], true);
        $map = ["admins" => "Admin", "dev" => "Dev"]; $roles = [];
        foreach ($accounts as $acct) {
            $provider = "arn:aws:iam::$acct:saml-provider/$providerName";
            foreach (($attributes["groups"] ?? []) as $g) {
                if (!isset($map[$g])) { continue; }
                $role = "arn:aws:iam::$acct:role/" . $map[$g];
                $roles[] = $principalFirst ? "$provider,$role" : "$role,$provider";
            }
        }
        if (count($roles) > 0) { $attributes["https://aws.amazon.com/SAML/Attributes/Role"] = $roles; }
        $attributes["https://aws.amazon.com/SAML/Attributes/RoleSessionName"] = [$attributes["uid"][0]];
        $attributes["https://aws.amazon.com/SAML/Attributes/SessionDuration"] = ["3600"];
    `
	lifetime := ""
	if opts.AssertionLifetime > 0 {
		lifetime = fmt.Sprintf("\n    'assertion.lifetime' => %d,", int(opts.AssertionLifetime/time.Second))
	}
	spRemote := `<?php
$metadata['urn:amazon:webservices'] = [
    'AssertionConsumerService' => 'https://signin.aws.amazon.com/saml',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    'simplesaml.nameidattribute' => 'uid',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri',` + lifetime + `
    'authproc' => [
        // build the persistent NameID from uid BEFORE core:AttributeLimit (90) drops uid
        20 => ['class' => 'saml:AttributeNameID', 'attribute' => 'uid',
               'Format' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
        50 => ['class' => 'core:PHP', 'code' => ` + phpQ(code) + `],
    ],
    'attributes' => [
        'https://aws.amazon.com/SAML/Attributes/Role',
        'https://aws.amazon.com/SAML/Attributes/RoleSessionName',
        'https://aws.amazon.com/SAML/Attributes/SessionDuration',
    ],
];
`
	if opts.BrokerEntityID != "" {
		spRemote += `
$metadata[` + phpQ(opts.BrokerEntityID) + `] = [
    'AssertionConsumerService' => ` + phpQ(opts.BrokerACS) + `,
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    'attributes' => ['uid', 'mail', 'groups'],
];
`
	}
	files := map[string]string{
		"config/config.php":              config,
		"config/authsources.php":         authsources,
		"metadata/saml20-idp-hosted.php": idpHosted,
		"metadata/saml20-sp-remote.php":  spRemote,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return fmt.Errorf("write SimpleSAMLphp %s: %w", name, err)
		}
	}
	return nil
}

package testpeer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// registeredSPsFile holds the SP metadata given to RegisterSP.
const registeredSPsFile = "registered-sps.xml"

// placeholderSP keeps the XML metadata source valid until RegisterSP.
const placeholderSP = `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:rolehop:testpeer:placeholder">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://placeholder.invalid/acs" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`

// RegisterSP registers a service provider with the IdP from its SAML
// metadata (an EntityDescriptor as the SP publishes it), replacing any SP
// registered before: what an IdP administrator does with a new SP. The IdP
// must have been started with SimpleSAMLOptions.RegisterSPs. SimpleSAMLphp
// reads its metadata on every request, so the SP is known at once.
func (s *SimpleSAML) RegisterSP(metadata []byte) error {
	path := filepath.Join(s.Dir, "metadata", registeredSPsFile)
	if _, err := os.Stat(path); err != nil {
		return errors.New("simplesaml: RegisterSP needs SimpleSAMLOptions.RegisterSPs")
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, metadata, 0o600); err != nil {
		return fmt.Errorf("simplesaml: write SP metadata: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("simplesaml: register SP metadata: %w", err)
	}
	return nil
}

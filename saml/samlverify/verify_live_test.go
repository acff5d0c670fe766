package samlverify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/rolehop/rolehop/saml/samlverify"
)

// TestVerifyLiveSimpleSAMLphp verifies fresh responses from a real
// SimpleSAMLphp (Debian) with its published metadata as the only trust
// anchor: the AWS sign-in SP (IdP-initiated, Response and Assertion signed
// with RSA-SHA256) and the broker SP (groups released).
func TestVerifyLiveSimpleSAMLphp(t *testing.T) {
	const brokerID, brokerACS = "http://127.0.0.1:8090/saml/metadata", "http://127.0.0.1:8090/saml/acs"
	idp := testpeer.NewSimpleSAML(t, testpeer.SimpleSAMLOptions{BrokerEntityID: brokerID, BrokerACS: brokerACS})
	ctx := context.Background()
	resp, err := http.Get(idp.MetadataURL)
	if err != nil {
		t.Fatal(err)
	}
	metadata, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	entityID, certs, err := samlverify.ParseIdP(metadata)
	if err != nil || entityID != idp.EntityID {
		t.Fatalf("ParseIdP: %q %v", entityID, err)
	}

	aws := samlverify.Trust{Issuer: entityID, Certs: certs, Audiences: []string{testpeer.AWSEntityID},
		Recipients: []string{testpeer.AWSACS}, AllowIdPInitiated: true}
	b64, err := idp.LoginAWS(ctx, "alice", "alicepass")
	if err != nil {
		t.Fatal(err)
	}
	r, err := samlverify.Verify(b64, aws, time.Now())
	if err != nil {
		t.Fatalf("genuine response: %v", err)
	}
	if r.NameID != "alice" || r.RoleSessionName != "alice" || r.SessionDuration != time.Hour ||
		len(r.RolesFor("111111111111", "Admin")) != 1 || r.Recipient != testpeer.AWSACS {
		t.Fatalf("verified response: %+v", r)
	}
	// The broker's audience is not AWS's: the same response is refused there.
	broker := samlverify.Trust{Issuer: entityID, Certs: certs, Audiences: []string{brokerID}, Recipients: []string{brokerACS}, AllowIdPInitiated: true}
	if _, err := samlverify.Verify(b64, broker, time.Now()); !errors.Is(err, samlverify.ErrDestination) {
		t.Errorf("AWS response at the broker: %v", err)
	}

	b64, err = idp.LoginSP(ctx, brokerID, "bob", "bobpass")
	if err != nil {
		t.Fatal(err)
	}
	r, err = samlverify.Verify(b64, broker, time.Now())
	if err != nil {
		t.Fatalf("broker response: %v", err)
	}
	if !slices.Equal(r.Attributes["groups"], []string{"dev"}) || !slices.Equal(r.Attributes["uid"], []string{"bob"}) {
		t.Errorf("broker attributes: %v", r.Attributes)
	}
	// Past the default 90 s after issue it is refused.
	if _, err := samlverify.Verify(b64, broker, r.IssueInstant.Add(samlverify.DefaultMaxAge+time.Second)); !errors.Is(err, samlverify.ErrExpired) {
		t.Errorf("stale broker response: %v", err)
	}
}

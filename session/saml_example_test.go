package session_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
)

// A SAML login gives credentials for the role "Admin" in any account the
// IdP grants it in; as the base of CrossAccount it is the hop-off account.
func ExampleNewSAML() {
	ctx := context.Background()
	client := &idp.Form{
		URL:      "https://idp.example.com/simplesaml/saml2/idp/SSOService.php?spentityid=urn%3Aamazon%3Awebservices",
		Prompter: idp.Fixed{User: "alice", Pass: "from-a-prompt-never-argv"},
	}
	p, err := session.NewSAML(client, "Admin", func(o *session.SAMLOptions) {
		o.Duration = time.Hour
		o.AssertionCacheTime = 5 * time.Minute
	})
	if err != nil {
		log.Fatal(err)
	}

	cfg, err := session.Config(ctx, p, "111111111111")
	var notGranted *session.RoleNotGrantedError
	switch {
	case errors.As(err, &notGranted):
		fmt.Println("pick one of:", notGranted.Granted)
		return
	case errors.Is(err, session.ErrIdPAccessDenied):
		fmt.Println("wrong password")
		return
	case err != nil:
		log.Fatal(err)
	}
	_ = cfg // s3.NewFromConfig(cfg), ...

	// SAML into the hop-off account, then AssumeRole "Deploy" elsewhere.
	everywhere, err := session.NewCrossAccount(p, "111111111111", "Deploy")
	if err != nil {
		log.Fatal(err)
	}
	_, _ = session.Config(ctx, everywhere, "222222222222")
}

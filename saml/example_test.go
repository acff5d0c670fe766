package saml_test

import (
	"fmt"
	"os"

	"github.com/rolehop/rolehop/saml"
)

func ExampleParse() {
	b64, err := os.ReadFile("testdata/simplesamlphp-alice.b64") // as an IdP posts it
	if err != nil {
		panic(err)
	}
	r, err := saml.Parse(string(b64))
	if err != nil {
		panic(err)
	}
	fmt.Println(r.NameID, r.SessionDuration)
	for _, role := range r.RolesFor("111111111111", "admin") {
		fmt.Println(role.AccountID(), role.Name(), role.PrincipalARN)
	}
	// Output:
	// alice 1h0m0s
	// 111111111111 Admin arn:aws:iam::111111111111:saml-provider/SimpleSAML
}

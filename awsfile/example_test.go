package awsfile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/rolehop/rolehop/awsfile"
)

// What `rolehop login --all` does with the credentials it got: one locked,
// atomic write for every profile, and the region into the config file.
func ExampleFile_Apply() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "credentials")
	_ = os.WriteFile(path, []byte("# my keys\n[default]\naws_access_key_id = AKIAOLD\naws_secret_access_key = old\n"), 0o600)

	creds := aws.Credentials{
		AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "token",
		CanExpire: true, Expires: time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC),
	}
	f := awsfile.File{Path: path, Kind: awsfile.Credentials}
	err := f.Apply(context.Background(),
		awsfile.Update{Profile: "prod-Admin", Set: awsfile.CredentialValues(creds)},
		awsfile.Update{Profile: "dev-Admin", Set: awsfile.CredentialValues(creds)},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := filepath.Join(dir, "config")
	if err := awsfile.UpdateConfig(context.Background(), cfg, "prod-Admin", map[string]string{awsfile.KeyRegion: "eu-west-1"}); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(path)
	fmt.Print(string(b))
	b, _ = os.ReadFile(cfg)
	fmt.Print(string(b))
	// Output:
	// # my keys
	// [default]
	// aws_access_key_id = AKIAOLD
	// aws_secret_access_key = old
	//
	// [prod-Admin]
	// aws_access_key_id = ASIAEXAMPLE
	// aws_secret_access_key = secret
	// aws_session_token = token
	// x_security_token_expires = 2026-11-22T16:00:00Z
	//
	// [dev-Admin]
	// aws_access_key_id = ASIAEXAMPLE
	// aws_secret_access_key = secret
	// aws_session_token = token
	// x_security_token_expires = 2026-11-22T16:00:00Z
	// [profile prod-Admin]
	// region = eu-west-1
}

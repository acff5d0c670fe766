package accounts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/smithy-go"

	"github.com/rolehop/rolehop/internal/orgsfake"
	"github.com/rolehop/rolehop/saml"
)

func ids(as []Account) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadFileFormats(t *testing.T) {
	want := []Account{
		{ID: "111111111111", Alias: "prod", Tags: map[string]string{"env": "prod", "team": "data"}},
		{ID: "222222222222", Alias: "dev", Tags: map[string]string{"env": "dev", "team": "web"}},
	}
	files := map[string]string{
		"a.csv": "# exported\nAccount_ID,Name,env,team\n111111111111,prod,prod,data\n222222222222, dev ,dev,web\n",
		"a.yaml": `- id: "111111111111"
  alias: prod
  tags: {env: prod, team: data}
- id: "222222222222"
  alias: dev
  tags: {env: dev, team: web}
`,
		"b.yml": `"111111111111": {alias: prod, tags: {env: prod, team: data}}
"222222222222": {alias: dev, tags: {env: dev, team: web}}
`,
	}
	for name, body := range files {
		got, err := ReadFile(writeFile(t, name, body), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v", name, got)
		}
	}
	got, err := ReadFile(writeFile(t, "a.txt", "# accounts\n111111111111 prod\n\n222222222222   # dev\nsandbox\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Account{{ID: "111111111111", Alias: "prod"}, {ID: "222222222222"}, {Alias: "sandbox"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines: %+v", got)
	}
	got, err = ReadFile("-", strings.NewReader("333333333333\n"))
	if err != nil || len(got) != 1 || got[0].ID != "333333333333" {
		t.Errorf("stdin: %+v %v", got, err)
	}
	// accounts.yaml's own form is an accounts file too.
	got, err = ReadFile(writeFile(t, "accounts.yaml", "\"111111111111\": prod\n"), nil)
	if err != nil || got[0].Alias != "prod" {
		t.Errorf("accounts.yaml form: %+v %v", got, err)
	}
}

func TestReadFileErrorsNameTheLine(t *testing.T) {
	cases := map[string]string{
		"x.txt":  "111111111111\n12345 prod\n",
		"x.csv":  "id,alias\n111111111111,a\nnot-an-id,b\n",
		"y.csv":  "alias,env\nprod,prod\n",
		"x.yaml": "- id: \"111111111111\"\n- id: 42\n",
		"z.yaml": "- id: \"111111111111\"\n  colour: blue\n",
	}
	wantLine := map[string]string{"x.txt": "line 2", "x.csv": "line 3", "y.csv": "line 1", "x.yaml": "line 2", "z.yaml": "line 2"}
	for name, body := range cases {
		_, err := ReadFile(writeFile(t, name, body), nil)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), wantLine[name]) {
			t.Errorf("%s: %v, want ErrInvalid at %s", name, err, wantLine[name])
		}
	}
}

func TestResolveFilterMerge(t *testing.T) {
	known := []Account{
		{ID: "111111111111", Alias: "prod", Tags: map[string]string{"env": "prod"}},
		{ID: "222222222222", Alias: "dev", Tags: map[string]string{"env": "dev"}},
		{ID: "333333333333", Alias: "prod-eu", Tags: map[string]string{"env": "prod"}},
	}
	got, err := Resolve([]string{"dev", "111111111111", "444444444444", "dev"}, known)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), []string{"222222222222", "111111111111", "444444444444"}) || got[1].Alias != "prod" {
		t.Errorf("resolve: %+v", got)
	}
	if _, err := Resolve([]string{"staging"}, known); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown alias: %v", err)
	}
	if _, err := Resolve([]string{"x"}, append(known, Account{ID: "555555555555", Alias: "x"}, Account{ID: "666666666666", Alias: "x"})); err == nil || !strings.Contains(err.Error(), "several") {
		t.Errorf("ambiguous alias: %v", err)
	}
	f := Filter{Where: []Match{{Key: "env", Value: "prod*"}}, Exclude: []string{"prod-eu"}}
	if got := ids(f.Apply(known)); !slices.Equal(got, []string{"111111111111"}) {
		t.Errorf("filter: %v", got)
	}
	f = Filter{Exclude: []string{"env=dev", "333333333333"}}
	if got := ids(f.Apply(known)); !slices.Equal(got, []string{"111111111111"}) || !f.NeedsTags() {
		t.Errorf("exclude: %v", got)
	}
	if _, err := ParseMatch("env"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseMatch without =: %v", err)
	}
	comp, err := Complete([]Account{{Alias: "dev"}, {ID: "111111111111"}}, known)
	if err != nil || !slices.Equal(ids(comp), []string{"222222222222", "111111111111"}) || comp[1].Tags["env"] != "prod" {
		t.Errorf("complete: %+v %v", comp, err)
	}
}

func TestGranted(t *testing.T) {
	roles := []saml.Role{
		{RoleARN: "arn:aws:iam::111111111111:role/Admin", PrincipalARN: "arn:aws:iam::111111111111:saml-provider/P"},
		{RoleARN: "arn:aws:iam::111111111111:role/Dev", PrincipalARN: "arn:aws:iam::111111111111:saml-provider/P"},
		{RoleARN: "arn:aws:iam::222222222222:role/Dev", PrincipalARN: "arn:aws:iam::222222222222:saml-provider/P"},
	}
	if got := ids(Granted(roles, "dev")); !slices.Equal(got, []string{"111111111111", "222222222222"}) {
		t.Errorf("granted Dev: %v", got)
	}
	if got := ids(Granted(roles, "Admin")); !slices.Equal(got, []string{"111111111111"}) {
		t.Errorf("granted Admin: %v", got)
	}
}

const (
	orgKey    = "AKIAORGSTEST"
	orgSecret = "orgs-secret-do-not-print"
)

// newOrg builds root → {prod → {prod-eu}, sandbox}, with 25 accounts at the
// root, 3 in prod (one suspended), 2 in prod-eu, 2 in sandbox.
func newOrg(t *testing.T) (*orgsfake.Server, map[string]string) {
	t.Helper()
	s := orgsfake.NewForTest(t, map[string]string{orgKey: orgSecret})
	prod := s.AddOU(s.Root, "prod")
	prodEU := s.AddOU(prod, "prod-eu")
	sandbox := s.AddOU(s.Root, "sandbox")
	n := 100000000000
	add := func(parent, state string, tags map[string]string) {
		n++
		s.AddAccount(orgsfake.Account{ID: fmt.Sprint(n), Name: fmt.Sprintf("acct %d", n), Parent: parent, State: state, Tags: tags})
	}
	for range 25 {
		add(s.Root, "", nil)
	}
	add(prod, "", map[string]string{"env": "prod"})
	add(prod, "", map[string]string{"env": "prod", "team": "data"})
	add(prod, "SUSPENDED", nil)
	add(prodEU, "", map[string]string{"env": "prod"})
	add(prodEU, "", map[string]string{"env": "prod"})
	add(sandbox, "", map[string]string{"env": "dev"})
	add(sandbox, "", map[string]string{"env": "dev"})
	return s, map[string]string{"prod": prod, "prod-eu": prodEU, "sandbox": sandbox}
}

func orgClient(s *orgsfake.Server, secret string) *organizations.Client {
	return organizations.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(orgKey, secret, ""),
		BaseEndpoint: aws.String(s.URL),
		// fanout.Retryer's policy with short waits, for the test's time.
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts, o.MaxBackoff, o.RateLimiter = 10, 5*time.Millisecond, ratelimit.None
			})
		},
	})
}

func TestOrganizationsWholeOUsAndExcluded(t *testing.T) {
	s, ou := newOrg(t)
	c := orgClient(s, orgSecret)
	ctx := context.Background()

	all, err := Organizations(ctx, c, OrgOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 31 { // 32 accounts, one suspended
		t.Errorf("whole organization: %d accounts, want 31 active", len(all))
	}
	if s.Calls("ListAccounts") != 4 { // pages of 10
		t.Errorf("%d ListAccounts pages, want 4", s.Calls("ListAccounts"))
	}
	if all[0].Alias != "acct 100000000001" {
		t.Errorf("alias from the account name: %+v", all[0])
	}

	prod, err := Organizations(ctx, c, OrgOptions{OUs: []string{ou["prod"]}, Tags: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(prod); !slices.Equal(got, []string{"100000000026", "100000000027", "100000000029", "100000000030"}) {
		t.Errorf("prod and its children: %v", got)
	}
	if prod[1].Tags["team"] != "data" {
		t.Errorf("tags: %+v", prod[1])
	}

	rest, err := Organizations(ctx, c, OrgOptions{ExcludeOUs: []string{ou["prod-eu"], ou["sandbox"]}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 27 || slices.Contains(ids(rest), "100000000029") || slices.Contains(ids(rest), "100000000031") {
		t.Errorf("without prod-eu and sandbox: %d accounts %v", len(rest), ids(rest))
	}
	if _, err := Organizations(ctx, c, OrgOptions{OUs: []string{"prod"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("an OU name instead of an ID: %v", err)
	}
}

func TestOrganizationsThrottlingAndSignature(t *testing.T) {
	s, _ := newOrg(t)
	s.ThrottleEvery(3)
	all, err := Organizations(context.Background(), orgClient(s, orgSecret), OrgOptions{Tags: true})
	if err != nil || len(all) != 31 {
		t.Fatalf("with every third call throttled: %d accounts, %v", len(all), err)
	}
	s.ThrottleEvery(0)
	_, err = Organizations(context.Background(), orgClient(s, "wrong-secret"), OrgOptions{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
		t.Errorf("a wrong secret: %v, want InvalidSignatureException", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Error("the secret is in the error")
	}
}

func TestValidateParentMatchesOrganizationsPatterns(t *testing.T) {
	// The patterns AWS Organizations documents for ParentId.
	ou := regexp.MustCompile(`^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`)
	root := regexp.MustCompile(`^r-[0-9a-z]{4,32}$`)
	ids := []string{
		"ou-ab12-cdef3456", "ou-abcd-12345678901234567890123456789012", "r-ab12", "r-" + strings.Repeat("a", 32),
		"ou-abc-cdef3456", "ou-ab12-cdef345", "ou-AB12-cdef3456", "ou-ab12cdef3456", "ou-ab12-cdef-3456",
		"r-abc", "r-" + strings.Repeat("a", 33), "r-ab_12", "R-ab12", "ou-ab12-cdef3456\n", " r-ab12", "", "ou-", "r-",
		"ou-" + strings.Repeat("a", 33) + "-cdef3456", "123456789012",
	}
	for _, id := range ids {
		want := ou.MatchString(id) || root.MatchString(id)
		if got := ValidateParent(id) == nil; got != want {
			t.Errorf("ValidateParent(%q) accepted = %v, the documented pattern says %v", id, got, want)
		}
	}
}

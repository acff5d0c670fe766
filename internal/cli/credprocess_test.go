package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
)

const (
	deliveryBucket = "cli-delivery"
	deliveryUser   = "delivery-user"
	deliverySecret = "delivery-user-secret-1"
)

// delivery is a rolehop source "prod" whose base "base" holds a MinIO user's
// static keys, with MinIO as STS, for real AWS CLI and boto3 clients.
type delivery struct {
	m      *testpeer.MinIO
	dir    string
	config string
	env    []string // the clients' environment: config file, cache, STS endpoint for rolehop
}

func newDelivery(t *testing.T) *delivery {
	t.Helper()
	m := testpeer.NewMinIO(t)
	m.AddUser(t, deliveryUser, deliverySecret, "readwrite")
	c := s3.NewFromConfig(m.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(deliveryBucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(deliveryBucket), Key: aws.String("hello.txt"),
		Body: strings.NewReader("hello from minio")}); err != nil {
		t.Fatalf("put object: %v", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, fmt.Sprintf(`[profile base]
aws_access_key_id = %s
aws_secret_access_key = %s
region = us-east-1

[profile prod]
credential_process = %s --profile prod
rolehop_base = base
rolehop_role_arn = arn:aws:iam::111111111111:role/Any
region = us-east-1
`, deliveryUser, deliverySecret, fastBinary(t)))
	env := testpeer.ProcEnv(t, "AWS_CONFIG_FILE="+cfg, "AWS_ENDPOINT_URL_STS="+m.Endpoint, "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	return &delivery{m: m, dir: dir, config: cfg, env: env}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// run runs a client process with the delivery environment plus extra.
func (d *delivery) run(t *testing.T, extra []string, argv ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append([]string{}, d.env...), extra...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", argv[0], err)
	}
	return out.String(), errOut.String(), code
}

// boto3Script lists the bucket, writes an object and prints how botocore
// found its credentials and whether they carry a session token.
const boto3Script = `
import sys, boto3
s = boto3.Session(profile_name=sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else boto3.Session()
c = s.get_credentials()
s3 = s.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cli-delivery").get("Contents", [])]
s3.put_object(Bucket="cli-delivery", Key="from-boto3-" + c.method + ".txt", Body=b"x")
body = s3.get_object(Bucket="cli-delivery", Key="hello.txt")["Body"].read().decode()
f = c.get_frozen_credentials()
print(c.method, "token" if f.token else "notoken", f.access_key == "delivery-user", ",".join(keys), body)
`

func checkBoto3(t *testing.T, what, out, stderr string, code int, method string) {
	t.Helper()
	if code != 0 {
		t.Fatalf("%s: boto3 exit %d: %s", what, code, stderr)
	}
	f := strings.Fields(out)
	if len(f) < 5 || f[0] != method || f[1] != "token" || f[2] != "False" || !strings.Contains(f[3], "hello.txt") {
		t.Errorf("%s: boto3 printed %q; want method %s, temporary credentials (not the base user's keys), hello.txt listed", what, out, method)
	}
}

func TestDeliveryToAWSCLIAndBoto3(t *testing.T) {
	d := newDelivery(t)
	ep := d.m.Endpoint
	aws := "/usr/bin/aws"
	py := "/usr/bin/python3"
	for _, p := range []string{aws, py} {
		if _, err := os.Stat(p); err != nil {
			testpeer.Missing(t, "%s not installed (apt-get install awscli python3-boto3)", p)
		}
	}

	t.Run("credential_process", func(t *testing.T) {
		out, stderr, code := d.run(t, nil, aws, "--endpoint-url", ep, "s3", "ls", "s3://"+deliveryBucket, "--profile", "prod")
		if code != 0 || !strings.Contains(out, "hello.txt") {
			t.Fatalf("aws s3 ls: exit %d, stdout %q, stderr %q", code, out, stderr)
		}
		local := filepath.Join(d.dir, "up.txt")
		writeFile(t, local, "uploaded by the aws cli")
		if out, stderr, code := d.run(t, nil, aws, "--endpoint-url", ep, "s3", "cp", local, "s3://"+deliveryBucket+"/cli.txt", "--profile", "prod"); code != 0 {
			t.Fatalf("aws s3 cp: exit %d %q %q", code, out, stderr)
		}
		out, stderr, code = d.run(t, nil, py, "-c", boto3Script, ep, "prod")
		checkBoto3(t, "credential_process", out, stderr, code, "custom-process")
		// The credentials are MinIO's temporary ones for the base user.
		out, _, code = d.run(t, nil, rolehopBinary(t), "credential-process", "--profile", "prod")
		var doc map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &doc) != nil {
			t.Fatalf("credential-process: %d %q", code, out)
		}
		if doc["AccessKeyId"] == deliveryUser || doc["SessionToken"] == "" {
			t.Errorf("not temporary credentials: %v", doc["AccessKeyId"])
		}
		// The profile's fast program prints the same bytes.
		fast, stderr, code := d.run(t, nil, fastBinary(t), "--profile", "prod")
		if code != 0 || fast != out {
			t.Errorf("rolehop-credential-process: exit %d, %q (stderr %q); rolehop credential-process printed %q", code, fast, stderr, out)
		}
	})

	t.Run("exec", func(t *testing.T) {
		// AWS_PROFILE=base would win over the variables; exec removes it.
		extra := []string{"AWS_PROFILE=base"}
		out, stderr, code := d.run(t, extra, rolehopBinary(t), "exec", "prod", "--", aws, "--endpoint-url", ep, "s3", "ls", "s3://"+deliveryBucket)
		if code != 0 || !strings.Contains(out, "hello.txt") {
			t.Fatalf("exec aws: exit %d, stdout %q, stderr %q", code, out, stderr)
		}
		out, stderr, code = d.run(t, extra, rolehopBinary(t), "exec", "prod", "--", py, "-c", boto3Script, ep, "")
		checkBoto3(t, "exec", out, stderr, code, "env")
	})

	t.Run("serve", func(t *testing.T) {
		uri, token, stop := startServe(t, d.env, "prod")
		defer stop()
		if !strings.HasPrefix(uri, "http://127.0.0.1:") {
			t.Errorf("endpoint %q not on 127.0.0.1", uri)
		}
		// The clients see no profile and no config: only the ECS variables.
		empty := filepath.Join(d.dir, "empty")
		writeFile(t, empty, "")
		extra := []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + uri, "AWS_CONTAINER_AUTHORIZATION_TOKEN=" + token,
			"AWS_CONFIG_FILE=" + empty, "AWS_SHARED_CREDENTIALS_FILE=" + empty, "AWS_DEFAULT_REGION=us-east-1"}
		out, stderr, code := d.run(t, extra, aws, "--endpoint-url", ep, "s3", "ls", "s3://"+deliveryBucket)
		if code != 0 || !strings.Contains(out, "hello.txt") {
			t.Fatalf("aws via ECS endpoint: exit %d, stdout %q, stderr %q", code, out, stderr)
		}
		out, stderr, code = d.run(t, extra, py, "-c", boto3Script, ep, "")
		checkBoto3(t, "serve", out, stderr, code, "container-role")
		// A wrong token is refused, and the client fails.
		bad := append(append([]string{}, extra...), "AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong")
		if _, _, code := d.run(t, bad, aws, "--endpoint-url", ep, "s3", "ls", "s3://"+deliveryBucket); code == 0 {
			t.Error("aws succeeded with a wrong token")
		}
	})

	t.Run("serve -- cmd", func(t *testing.T) {
		out, stderr, code := d.run(t, []string{"AWS_PROFILE=base"}, rolehopBinary(t), "serve", "prod", "--", py, "-c", boto3Script, ep, "")
		checkBoto3(t, "serve -- cmd", out, stderr, code, "container-role")
		_, _, code = d.run(t, nil, rolehopBinary(t), "serve", "prod", "--", "sh", "-c", "exit 9")
		if code != 9 {
			t.Errorf("serve -- sh -c 'exit 9': exit %d", code)
		}
	})
}

// startServe starts `rolehop serve profile` and returns the two values it
// prints and a function stopping it with SIGINT (which must exit 0).
func startServe(t *testing.T, env []string, profile string) (uri, token string, stop func()) {
	t.Helper()
	cmd := exec.Command(rolehopBinary(t), "serve", profile)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	for range 2 {
		line, err := r.ReadString('\n')
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("serve printed %q then %v; stderr %q", line, err, errOut.String())
		}
		// export NAME='value'
		name, val, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "export "), "=")
		if !ok || !strings.HasPrefix(line, "export ") {
			t.Fatalf("serve line %q", line)
		}
		val = strings.Trim(val, "'")
		switch name {
		case "AWS_CONTAINER_CREDENTIALS_FULL_URI":
			uri = val
		case "AWS_CONTAINER_AUTHORIZATION_TOKEN":
			token = val
		}
	}
	if uri == "" || token == "" {
		t.Fatal("serve did not print both variables")
	}
	var once sync.Once
	return uri, token, func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGINT)
			if err := cmd.Wait(); err != nil {
				t.Errorf("serve after SIGINT: %v; stderr %q", err, errOut.String())
			}
		})
	}
}

// stsEnv is a process environment with a config file holding config, a
// fresh cache folder and STS at srv.
func stsEnv(t *testing.T, srv *stsfake.Server, config string) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, config)
	cache := filepath.Join(dir, "cache")
	return testpeer.ProcEnv(t, "AWS_CONFIG_FILE="+cfg, "AWS_ENDPOINT_URL_STS="+srv.URL, "AWS_REGION=us-east-1", "XDG_CACHE_HOME="+cache), cache
}

const fakeConfig = `[profile base]
aws_access_key_id = AKIABASEKEY
aws_secret_access_key = base-secret

[profile prod]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::111111111111:role/Admin
region = eu-west-1

[profile a]
rolehop_base = b
rolehop_role_arn = arn:aws:iam::111111111111:role/A

[profile b]
rolehop_base = a
rolehop_role_arn = arn:aws:iam::111111111111:role/B

[profile badarn]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::42:role/Nope

[profile baddur]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::111111111111:role/Admin
rolehop_duration = soon

[profile denied]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::111111111111:role/Denied

[profile nobase]
rolehop_base = nosuchprofile
rolehop_role_arn = arn:aws:iam::111111111111:role/Admin
`

func TestCredentialProcessDocument(t *testing.T) {
	srv := stsfake.NewForTest(t)
	env, _ := stsEnv(t, srv, fakeConfig)
	out, stderr, code := runRolehop(t, env, "credential-process", "--profile", "prod")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %q", out)
	}
	if doc["Version"] != float64(1) || doc["AccessKeyId"] == "" || doc["SecretAccessKey"] == "" || doc["SessionToken"] == "" {
		t.Errorf("document %v", doc)
	}
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(doc["Expiration"]))
	if err != nil || !exp.After(time.Now()) {
		t.Errorf("Expiration %v: %v", doc["Expiration"], err)
	}
	is, ok := srv.Issued(fmt.Sprint(doc["AccessKeyId"]))
	if !ok || is.RoleARN != "arn:aws:iam::111111111111:role/Admin" || !is.Expiration.Equal(exp) {
		t.Errorf("issued %+v", is)
	}
	// whoami PROFILE uses the source's credentials.
	out, stderr, code = runRolehop(t, env, "whoami", "prod")
	if code != 0 || !strings.Contains(out, `"Arn": "arn:aws:sts::111111111111:assumed-role/Admin/`) {
		t.Errorf("whoami prod: exit %d, %q %q", code, out, stderr)
	}
	// env and exec hand out the same cached credentials: one STS call in all.
	out, _, code = runRolehop(t, env, "env", "prod", "--format", "json")
	var vars map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &vars) != nil || vars["AWS_ACCESS_KEY_ID"] != doc["AccessKeyId"] || vars["AWS_REGION"] != "eu-west-1" {
		t.Errorf("env json: %d %q", code, out)
	}
	if n := srv.Calls("AssumeRole"); n != 1 {
		t.Errorf("AssumeRole calls %d, want 1 (the rest from the cache)", n)
	}
}

func TestCredentialProcessBadInput(t *testing.T) {
	srv := stsfake.NewForTest(t)
	srv.Deny("arn:aws:iam::111111111111:role/Denied")
	env, _ := stsEnv(t, srv, fakeConfig)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"credential-process", "--profile", "missing"}, 2, `profile "missing" not found`},
		{[]string{"credential-process", "--profile", "a"}, 2, "a → b → a"},
		{[]string{"credential-process", "--profile", "badarn"}, 2, "RoleArn"},
		{[]string{"credential-process", "--profile", "baddur"}, 2, "rolehop_duration"},
		{[]string{"credential-process", "--profile", "nobase"}, 2, "nosuchprofile"},
		{[]string{"credential-process"}, 2, "--profile is required"},
		{[]string{"credential-process", "--profile", "denied"}, 5, "AccessDenied"},
		{[]string{"exec", "a", "--", "true"}, 2, "a → b → a"},
		{[]string{"env", "badarn"}, 2, "RoleArn"},
		{[]string{"env", "prod", "--format", "csh"}, 2, "--format"},
		{[]string{"serve", "missing"}, 2, `profile "missing" not found`},
		{[]string{"whoami", "a"}, 2, "a → b → a"},
	} {
		out, stderr, code := runRolehop(t, env, tc.args...)
		if tc.args[0] == "credential-process" {
			// The fast program hands all of these to rolehop: the same line,
			// the same exit code.
			fout, fstderr, fcode := runBinary(t, fastBinary(t), env, tc.args[1:]...)
			if fout != out || fstderr != stderr || fcode != code {
				t.Errorf("rolehop-credential-process %v: exit %d, %q %q; rolehop: exit %d, %q %q", tc.args[1:], fcode, fout, fstderr, code, out, stderr)
			}
		}
		if out != "" {
			t.Errorf("%v: stdout %q, want nothing", tc.args, out)
		}
		if code != tc.code || !strings.HasPrefix(stderr, "rolehop: ") || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and one line with %q", tc.args, code, stderr, tc.code, tc.msg)
		}
		if strings.Contains(stderr, "base-secret") {
			t.Errorf("%v: secret in stderr", tc.args)
		}
	}
}

func TestCredentialProcessConcurrentColdCache(t *testing.T) {
	srv := stsfake.NewForTest(t, stsfake.WithLatency(200*time.Millisecond))
	env, cache := stsEnv(t, srv, fakeConfig)
	// The fast program, as a profile runs it: every one misses and hands
	// over to rolehop, whose cache lock lets one of them call STS.
	bin := fastBinary(t)
	const n = 50
	keys := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(bin, "--profile", "prod")
			cmd.Env = env
			out, err := cmd.Output()
			var doc map[string]any
			if err != nil || json.Unmarshal(out, &doc) != nil {
				t.Errorf("process %d: %v %q", i, err, out)
				return
			}
			keys[i] = fmt.Sprint(doc["AccessKeyId"])
		})
	}
	wg.Wait()
	if got := srv.Calls("AssumeRole"); got != 1 {
		t.Errorf("%d processes on a cold cache made %d AssumeRole calls, want 1", n, got)
	}
	for i, k := range keys {
		if k != keys[0] {
			t.Errorf("process %d got %s, process 0 %s", i, k, keys[0])
		}
	}

	// A corrupt cache file is survived: replaced by a fresh fetch.
	files, _ := filepath.Glob(filepath.Join(cache, "rolehop", "creds", "*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one", files)
	}
	if st, _ := os.Stat(files[0]); st.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v", st.Mode().Perm())
	}
	writeFile(t, files[0], `{"Credentials": {"AccessKeyId": "trunc`)
	out, stderr, code := runRolehop(t, env, "credential-process", "--profile", "prod")
	var doc map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc["AccessKeyId"] == keys[0] {
		t.Fatalf("after corrupting the cache: exit %d, %q %q", code, out, stderr)
	}
	if got := srv.Calls("AssumeRole"); got != 2 {
		t.Errorf("AssumeRole calls %d after the corrupt file, want 2", got)
	}
	b, _ := os.ReadFile(files[0])
	if !json.Valid(b) {
		t.Error("the corrupt file was not replaced")
	}
}

// TestCredentialProcessRecursion: a base whose credential_process runs
// rolehop for the very source depending on it fails at once instead of
// waiting forever on its own cache lock.
func TestCredentialProcessRecursion(t *testing.T) {
	srv := stsfake.NewForTest(t)
	env, _ := stsEnv(t, srv, fmt.Sprintf(`[profile loop]
rolehop_base = helper
rolehop_role_arn = arn:aws:iam::111111111111:role/Loop

[profile helper]
credential_process = %s credential-process --profile loop
`, rolehopBinary(t)))
	out, stderr, code := runRolehop(t, env, "credential-process", "--profile", "loop")
	// The inner rolehop's line, then the outer one's (the SDK passes the
	// credential_process's stderr through).
	if out != "" || code == 0 || !strings.Contains(stderr, "loop → loop") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if n := srv.Calls("AssumeRole"); n != 0 {
		t.Errorf("%d AssumeRole calls", n)
	}
}

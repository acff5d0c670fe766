package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
)

func TestExitCode(t *testing.T) {
	apiErr := &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain", errors.New("boom"), 1},
		{"ExitError", &ExitError{Code: 4, Err: errors.New("role Admin not granted")}, 4},
		{"wrapped ExitError", fmt.Errorf("login: %w", &ExitError{Code: 3, Err: errors.New("denied")}), 3},
		{"invalid parameter", fmt.Errorf("x: %w", &session.ParamError{Field: "DurationSeconds", Rule: "900..43200"}), 2},
		{"profile not found", &session.ProfileNotFoundError{AccountID: "111111111111"}, 2},
		{"idp rejected", fmt.Errorf("login: %w", idp.ErrAccessDenied), 3},
		{"api error", fmt.Errorf("sts: %w", apiErr), 5},
		{"operation error", &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole", Err: errors.New("connection refused")}, 5},
		{"assume role", &session.AssumeRoleError{RoleARN: "arn:aws:iam::1:role/x", Err: errors.New("x")}, 5},
		{"file", fmt.Errorf("read: %w", &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrPermission}), 6},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("%s: ExitCode(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := OneLine(errors.New("a\n  b\tc\n")); got != "a b c" {
		t.Errorf("OneLine = %q", got)
	}
}

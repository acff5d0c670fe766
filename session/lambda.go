package session

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// LambdaSessionName returns a RoleSessionName identifying this AWS Lambda
// execution environment: "function[.version].instance" from
// AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION ($LATEST omitted) and
// the instance ID after "]" in AWS_LAMBDA_LOG_STREAM_NAME
// ("2024/01/01/[$LATEST]0123abcd..."). Characters outside [\w+=,.@-] become
// "-" and the result is cut to 64 characters. Outside Lambda it returns
// "rolehop-<unix-seconds>".
func LambdaSessionName() string {
	fn := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	if fn == "" {
		return "rolehop-" + strconv.FormatInt(time.Now().Unix(), 10)
	}
	name := fn
	if v := os.Getenv("AWS_LAMBDA_FUNCTION_VERSION"); v != "" && v != "$LATEST" {
		name += "." + v
	}
	if s := os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME"); s != "" {
		if i := strings.LastIndex(s, "]"); i >= 0 && i+1 < len(s) {
			name += "." + s[i+1:]
		}
	}
	name = sanitizeSessionName(name)
	if len(name) < 2 {
		return "rolehop-" + strconv.FormatInt(time.Now().Unix(), 10)
	}
	return name
}

func sanitizeSessionName(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < 64; i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.IndexByte("_+=,.@-", c) >= 0:
			b = append(b, c)
		default:
			b = append(b, '-')
		}
	}
	return string(b)
}

package idp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// postJSON POSTs body as JSON to u with header and decodes the JSON answer
// into ans, whatever its HTTP status, which it returns: the one round trip
// of the vendor APIs (Okta's Authentication API, OneLogin's). vendor names
// the IdP in errors; ctLimit bounds the content type quoted for an answer
// that is not JSON, and hint is added to that error. logAnswer, called
// once ans is decoded, logs it with the request's path and HTTP status.
func postJSON(ctx context.Context, client *http.Client, vendor, u string, header http.Header, body, ans any, ctLimit int, hint string,
	logAnswer func(path string, status int)) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrIdP, vendor, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("%s: %s: %w", vendor, req.URL.Path, ctx.Err())
		}
		return 0, fmt.Errorf("%w: %s %s: %v", ErrIdP, vendor, where(req.URL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, fmt.Errorf("%w: %s %s: reading the answer: %v", ErrIdP, vendor, req.URL.Path, err)
	}
	if err := json.Unmarshal(raw, ans); err != nil {
		return 0, fmt.Errorf("%w: %s %s answered HTTP %d with non-JSON (content type %q)%s", ErrIdP, vendor, req.URL.Path, resp.StatusCode, oneLine(resp.Header.Get("Content-Type"), ctLimit), hint)
	}
	logAnswer(req.URL.Path, resp.StatusCode)
	return resp.StatusCode, nil
}

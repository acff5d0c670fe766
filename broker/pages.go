package broker

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"
)

//go:embed web
var webFS embed.FS

var (
	pageTemplates = map[string]*template.Template{}
	stylesheet    []byte
)

func init() {
	for _, p := range []string{"index", "message", "confirm"} {
		pageTemplates[p] = template.Must(template.ParseFS(webFS, "web/layout.html", "web/"+p+".html"))
	}
	var err error
	if stylesheet, err = webFS.ReadFile("web/broker.css"); err != nil {
		panic(err)
	}
}

// pageData is what the templates show. Every field is text, escaped by
// html/template; nothing from an assertion or a request but the user's
// own name reaches a page.
type pageData struct {
	Title     string
	PageTitle string
	User      string
	CSRF      string
	RequestID string
	Status    int

	Targets []targetView

	Kind      string // info, warn, error
	Heading   string
	Message   string
	Link      string
	LinkLabel string
	Action    string
}

type targetView struct {
	Path, Alias, Account, Role, Description, Region, Duration string
}

// render writes a page with status. The page is built in memory first so
// that a template error never leaves half a page.
func render(w http.ResponseWriter, name string, status int, d *pageData) {
	d.Status = status
	var buf bytes.Buffer
	if err := pageTemplates[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		http.Error(w, "internal error (reference "+d.RequestID+")", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// message pages, one per situation: what happened and what to do, never
// why in detail (no group list, no role ARN, no SAML error text).
type message struct {
	status           int
	kind             string
	heading, message string
	link, linkLabel  string
}

var (
	msgForbidden = message{http.StatusForbidden, "error", "You don't have access to this console",
		"Your groups do not include one that may open this AWS console. If you need it, ask your administrator to add you to the right group, then sign in again.",
		"", "Back to your consoles"}
	msgNotFound = message{http.StatusNotFound, "warn", "No such console",
		"There is no AWS console at this address. It may have been renamed or removed.", "", "Back to your consoles"}
	msgStoreDown = message{http.StatusServiceUnavailable, "error", "Sign-in is temporarily unavailable",
		"The service cannot reach its session store right now. Nothing is wrong with your account; please try again in a minute.", "", "Try again"}
	msgAWSFailed = message{http.StatusBadGateway, "error", "AWS did not open the console",
		"AWS refused or failed to create the console session. The failure is logged with the reference below; try again, or give it to your administrator.", "", "Back to your consoles"}
	msgLoginFailed = message{http.StatusBadRequest, "error", "Sign-in failed",
		"The sign-in answer from your identity provider could not be accepted. Start again; if it keeps failing, give the reference below to your administrator.", "", "Sign in again"}
	msgLoginExpired = message{http.StatusBadRequest, "warn", "Your sign-in expired",
		"The sign-in took too long, was already used, or was started in another browser. Start again from this browser.", "", "Sign in again"}
	msgNoUser = message{http.StatusForbidden, "error", "Your identity provider did not say who you are",
		"The sign-in answer names no usable user (the broker needs a persistent or e-mail NameID, or the configured user attribute). Ask your administrator to check the identity provider's settings.", "", "Sign in again"}
	msgBadRequest = message{http.StatusForbidden, "error", "This request was refused",
		"The form was not sent from this site or has expired. Reload the page and try again.", "", "Back to your consoles"}
	msgSignedOut = message{http.StatusOK, "info", "You are signed out",
		"Your session with this service has ended. Consoles you opened keep running until they expire; sign out of them in the AWS console.", "", "Sign in again"}
	msgTooMany = message{http.StatusServiceUnavailable, "warn", "Too many sign-ins at once",
		"The service is busy checking other sign-ins. Please try again in a few seconds.", "", "Try again"}
	msgMethod = message{http.StatusMethodNotAllowed, "warn", "Not allowed",
		"This address does not take that kind of request.", "", "Back to your consoles"}
	msgInternal = message{http.StatusInternalServerError, "error", "Something went wrong",
		"The service failed to handle this request. The failure is logged with the reference below.", "", "Back to your consoles"}
)

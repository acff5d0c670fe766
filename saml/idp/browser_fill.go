package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/net/html"
)

// pageState is what headless mode reads from the page at each look.
type pageState struct {
	URL     string   `json:"url"`
	Origin  string   `json:"origin"`
	Ready   string   `json:"ready"`
	Doc     float64  `json:"doc"` // performance.timeOrigin: a new document, a new value
	Status  int      `json:"status"`
	HTML    string   `json:"html"`
	Visible []string `json:"visible"` // "FORMINDEX:NAME" of the inputs a person can see
}

const stateJS = `(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const forms = Array.from(document.forms);
  const vis = e => !e.disabled && !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length) &&
    getComputedStyle(e).visibility !== 'hidden';
  const visible = Array.from(document.querySelectorAll('input[name],textarea[name],select[name]'))
    .filter(vis).map(e => forms.indexOf(e.form) + ':' + e.name);
  let html = document.documentElement ? document.documentElement.outerHTML : '';
  if (html.length > 4194304) { html = html.slice(0, 4194304); }
  return {url: location.href, origin: location.origin, ready: document.readyState,
    doc: performance.timeOrigin, status: (nav && nav.responseStatus) || 0, html, visible};
})()`

// fillState is what headless mode remembers between looks.
type fillState struct {
	passDoc, userDoc, otpDoc float64 // the documents where each was typed
	errBefore                string  // the page's error text when the password was sent
	shot                     bool
	samlSince                time.Time
	samlDoc                  float64
}

// fill is headless mode: look at the page every 150 ms and type what the
// IdP asks for, until the SAMLResponse goes to AWS (and is intercepted),
// the IdP rejects the login, or nothing happens for StallTimeout.
func (s *browserLogin) fill(ctx context.Context, detached <-chan struct{}) (string, error) {
	// The first look is at once, then every 150 ms.
	tick := time.NewTimer(0)
	defer tick.Stop()
	var (
		fs         fillState
		lastDoc    float64
		lastURL    string
		lastChange = time.Now()
		last       *page
	)
	for {
		select {
		case in := <-s.got:
			if sr, ok, err := s.result(ctx, in); ok {
				return sr, err
			}
			continue
		case <-detached:
			return "", s.closed()
		case <-ctx.Done():
			return "", s.closed()
		case <-tick.C:
			tick.Reset(150 * time.Millisecond)
		}
		st, err := s.state(ctx)
		if err != nil {
			// Navigating: the document is being replaced.
			continue
		}
		if st.Doc != lastDoc || st.URL != lastURL {
			lastDoc, lastURL, lastChange = st.Doc, st.URL, time.Now()
		}
		if st.Ready == "loading" {
			continue
		}
		p, err := s.parseState(st)
		if err != nil {
			continue
		}
		last = p
		acted, err := s.step(ctx, st, p, &fs)
		if err != nil {
			return "", err
		}
		if acted {
			lastChange = time.Now()
			continue
		}
		if time.Since(lastChange) > s.stall {
			desc := "no page"
			if last != nil {
				desc = last.describe()
			}
			return "", fmt.Errorf("%w: browser idp: the page shows nothing rolehop can fill and has not changed for %s (%s); sign in with the browser window (not headless) for this IdP",
				ErrNoAssertion, s.stall, desc)
		}
	}
}

func (s *browserLogin) state(ctx context.Context) (*pageState, error) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := chromedp.Run(sctx, chromedp.Evaluate[pageState](stateJS))
	if err != nil {
		return nil, err
	}
	return &st, nil
}

func (s *browserLogin) parseState(st *pageState) (*page, error) {
	u, err := url.Parse(st.URL)
	if err != nil {
		return nil, err
	}
	doc, err := html.Parse(strings.NewReader(st.HTML))
	if err != nil {
		return nil, err
	}
	return parsePage(doc, u, st.Status), nil
}

// visible reports whether input in (of p's form number fi) can be seen.
func visible(st *pageState, fi int, in *formInput) bool {
	return in != nil && in.name != "" && slices.Contains(st.Visible, strconv.Itoa(fi)+":"+in.name)
}

func formIndex(p *page, form *htmlForm) int {
	return slices.Index(p.forms, form)
}

// step acts on one look at the page. acted reports that rolehop typed or
// submitted something.
func (s *browserLogin) step(ctx context.Context, st *pageState, p *page, fs *fillState) (acted bool, err error) {
	f := s.fl
	secrets := []string{f.pass}
	if !strings.HasPrefix(st.URL, "http://") && !strings.HasPrefix(st.URL, "https://") {
		return false, nil // about:blank, an error page: wait
	}

	// The SAMLResponse is on its way: the page posts it to AWS sign-in,
	// where it is intercepted. A form that does not go there is an IdP
	// set up for another service provider.
	for i, form := range p.forms {
		if form.has("SAMLResponse") == nil {
			continue
		}
		target, err := actionURL(p, form)
		if err != nil || !awsSignInHost(target.Hostname()) {
			host := "(unreadable action)"
			if err == nil {
				host = target.Host
			}
			return false, fmt.Errorf("%w: browser idp: the IdP posts the SAMLResponse to %s, not to AWS sign-in; check that the sign-on url is the IdP's url for AWS",
				ErrNoAssertion, oneLine(host, 100))
		}
		if fs.samlDoc != st.Doc {
			fs.samlDoc, fs.samlSince = st.Doc, time.Now()
		} else if time.Since(fs.samlSince) > 2*time.Second {
			// A page that waits for a click on "Continue": post it.
			fs.samlSince = time.Now()
			s.log.DebugContext(ctx, "browser idp: submitting the SAMLResponse form the page did not post")
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`HTMLFormElement.prototype.submit.call(document.forms[%d])`, i))); err != nil {
				s.log.DebugContext(ctx, "browser idp: submitting the SAMLResponse form", "error", oneLine(err.Error(), 200))
			}
			return true, nil
		}
		return false, nil
	}

	if form := f.otpForm(p); form != nil {
		fi, in := formIndex(p, form), f.otpInput(form)
		if visible(st, fi, in) {
			if f.otpSent {
				msg := p.errorText(secrets...)
				if st.Doc != fs.otpDoc || (msg != "" && msg != fs.errBefore) {
					if msg == "" {
						msg = "the one-time-code form was shown again"
					}
					return false, fmt.Errorf("%w: browser idp rejected the one-time code: %s", ErrAccessDenied, msg)
				}
				return false, nil
			}
			if err := s.mayType(st, p, form, "the one-time code"); err != nil {
				return false, err
			}
			code, err := f.otp(ctx, in)
			if err != nil {
				return false, err
			}
			s.shoot(ctx, fs)
			fs.errBefore = p.errorText(secrets...)
			if err := s.typeInto(ctx, fi, in.name, false, code, true); err != nil {
				s.log.DebugContext(ctx, "browser idp: typing the one-time code", "error", oneLine(err.Error(), 200, code))
				return false, nil
			}
			f.otpSent, fs.otpDoc = true, st.Doc
			s.log.DebugContext(ctx, "browser idp: typed the one-time code", "page", p.url.Host+p.url.Path)
			return true, nil
		}
	}

	if form := f.passwordForm(p); form != nil {
		fi := formIndex(p, form)
		pin, uin := f.passInput(form), f.userInput(form)
		switch {
		case visible(st, fi, pin):
			if f.passSent {
				msg := p.errorText(secrets...)
				if st.Doc != fs.passDoc || (msg != "" && msg != fs.errBefore) {
					if msg == "" {
						msg = "the login form was shown again"
					}
					return false, fmt.Errorf("%w: browser idp: %s; check the username and password", ErrAccessDenied, msg)
				}
				return false, nil // the form is on its way
			}
			if err := s.mayType(st, p, form, "the password"); err != nil {
				return false, err
			}
			if err := f.credentials(ctx); err != nil {
				return false, err
			}
			s.shoot(ctx, fs)
			fs.errBefore = p.errorText(f.pass)
			if visible(st, fi, uin) {
				if err := s.typeInto(ctx, fi, uin.name, false, f.user, false); err != nil {
					s.log.DebugContext(ctx, "browser idp: typing the username", "error", oneLine(err.Error(), 200, f.pass))
					return false, nil
				}
			}
			if err := s.typeInto(ctx, fi, pin.name, true, f.pass, true); err != nil {
				s.log.DebugContext(ctx, "browser idp: typing the password", "error", oneLine(err.Error(), 200, f.pass))
				return false, nil
			}
			f.passSent, fs.passDoc = true, st.Doc
			s.log.DebugContext(ctx, "browser idp: typed the username and password", "page", p.url.Host+p.url.Path)
			return true, nil
		case !f.userSent && visible(st, fi, uin):
			// The password field is still hidden: a username step.
			return s.typeUsername(ctx, st, p, form, uin, fs)
		}
	}

	for _, form := range p.forms {
		ins := form.visibleTextInputs()
		if len(ins) != 1 || form.firstOfType("password") != nil || !visible(st, formIndex(p, form), ins[0]) {
			continue
		}
		in := ins[0]
		if !((f.userField != "" && in.name == f.userField) || (userRE().MatchString(in.hint) && !in.looksOTP())) {
			continue
		}
		if f.userSent {
			if st.Doc != fs.userDoc && !f.passSent {
				msg := p.errorText(secrets...)
				if msg == "" {
					msg = "the username form was shown again"
				}
				return false, fmt.Errorf("%w: browser idp: %s; check the username", ErrAccessDenied, msg)
			}
			return false, nil
		}
		return s.typeUsername(ctx, st, p, form, in, fs)
	}

	if len(p.forms) == 0 && p.status >= http.StatusBadRequest {
		if p.status == http.StatusUnauthorized || p.status == http.StatusForbidden {
			return false, fmt.Errorf("%w: browser idp answered %s", ErrAccessDenied, p.describe())
		}
		return false, fmt.Errorf("%w: browser idp: the IdP answered %s; check the sign-on url and that the IdP knows the AWS service provider", ErrNoAssertion, p.describe())
	}
	return false, nil
}

func (s *browserLogin) typeUsername(ctx context.Context, st *pageState, p *page, form *htmlForm, in *formInput, fs *fillState) (bool, error) {
	f := s.fl
	if err := s.mayType(st, p, form, "the username"); err != nil {
		return false, err
	}
	if err := f.credentials(ctx); err != nil {
		return false, err
	}
	s.shoot(ctx, fs)
	if err := s.typeInto(ctx, formIndex(p, form), in.name, false, f.user, true); err != nil {
		s.log.DebugContext(ctx, "browser idp: typing the username", "error", oneLine(err.Error(), 200, f.pass))
		return false, nil
	}
	f.userSent, fs.userDoc = true, st.Doc
	s.log.DebugContext(ctx, "browser idp: typed the username", "page", p.url.Host+p.url.Path)
	return true, nil
}

// shoot hands the page to Waiting once, before the first typing.
func (s *browserLogin) shoot(ctx context.Context, fs *fillState) {
	if !fs.shot {
		fs.shot = true
		s.screenshot(ctx)
	}
}

// mayType checks that the page, and the form's target, are at an origin
// where credentials may be typed: the sign-on URL's, or TypeOrigins.
func (s *browserLogin) mayType(st *pageState, p *page, form *htmlForm, what string) error {
	if !s.allowed[st.Origin] {
		return fmt.Errorf("browser idp: refusing to type %s into a page at %s: the sign-on url is at %s (if that page is your IdP's login page, add its origin to the typing origins)",
			what, oneLine(st.Origin, 100), originOf(s.start))
	}
	target, err := actionURL(p, form)
	if err != nil {
		return fmt.Errorf("%w: browser idp: the login form's action %q is not a url", ErrIdP, oneLine(form.action, 80))
	}
	if target.Scheme != "javascript" && !s.allowed[originOf(target)] {
		return fmt.Errorf("browser idp: refusing to type %s into a form that posts to %s: the sign-on url is at %s (if that is your IdP, add its origin to the typing origins)",
			what, oneLine(originOf(target), 100), originOf(s.start))
	}
	return nil
}

// typeInto types text into input name of form number fi, as key presses,
// then presses Enter when enter is set. The element is found again, and the
// page's origin checked again, immediately before typing.
func (s *browserLogin) typeInto(ctx context.Context, fi int, name string, password bool, text string, enter bool) error {
	var origins []string
	for o := range s.allowed {
		origins = append(origins, o)
	}
	slices.Sort(origins)
	originsJS, _ := json.Marshal(origins)
	nameJS, _ := json.Marshal(name)
	find := func(clear bool) chromedp.JSPath {
		check := ""
		if password {
			check = ` || e.type !== 'password'`
		}
		reset := ""
		if clear {
			reset = `e.value = '';`
		}
		return chromedp.JSPath(fmt.Sprintf(`(() => {
  if (!%s.includes(location.origin)) { return null; }
  const f = document.forms[%d];
  if (!f) { return null; }
  const e = Array.from(f.elements).find(x => x.name === %s);
  if (!e%s) { return null; }
  %s
  return e;
})()`, originsJS, fi, nameJS, check, reset))
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.SendKeys(find(true), text)); err != nil {
		return errors.New(oneLine(err.Error(), 300, text))
	}
	if enter {
		if err := chromedp.Do(tctx, chromedp.SendKeys(find(false), "\r")); err != nil {
			return errors.New(oneLine(err.Error(), 300, text))
		}
	}
	return nil
}

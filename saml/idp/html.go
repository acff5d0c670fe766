package idp

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// page is one HTML answer from an IdP.
type page struct {
	url    *url.URL // after redirects
	status int
	title  string
	forms  []*htmlForm
	doc    *html.Node
}

type htmlForm struct {
	action string // raw attribute, HTML-unescaped by the parser
	method string // "GET" or "POST"
	id     string
	inputs []*formInput
}

type formInput struct {
	tag     string // input, select, textarea, button
	typ     string // lower case; "text" for a typeless input, "submit" for a typeless button
	name    string
	value   string
	checked bool
	hint    string // lower-case name, id, placeholder, autocomplete, aria-label and label text
	label   string // the label text, as shown
}

// parsePage reads the forms of an HTML document.
func parsePage(doc *html.Node, u *url.URL, status int) *page {
	p := &page{url: u, status: status, doc: doc}
	labels := map[string]string{} // for= id -> text
	walk(doc, func(n *html.Node) bool {
		if n.Type == html.ElementNode && n.DataAtom == atom.Label {
			if f := attr(n, "for"); f != "" {
				labels[f] = text(n)
			}
		}
		if n.Type == html.ElementNode && n.DataAtom == atom.Title && p.title == "" {
			p.title = text(n)
		}
		return true
	})
	walk(doc, func(n *html.Node) bool {
		if n.Type != html.ElementNode || n.DataAtom != atom.Form {
			return true
		}
		f := &htmlForm{action: attr(n, "action"), method: strings.ToUpper(attr(n, "method")), id: attr(n, "id")}
		if f.method != "GET" {
			f.method = "POST"
		}
		walk(n, func(c *html.Node) bool {
			if c.Type != html.ElementNode {
				return true
			}
			var in *formInput
			switch c.DataAtom {
			case atom.Input:
				in = &formInput{tag: "input", typ: strings.ToLower(attr(c, "type")), value: attr(c, "value")}
				if in.typ == "" {
					in.typ = "text"
				}
				_, in.checked = attrOK(c, "checked")
			case atom.Button:
				in = &formInput{tag: "button", typ: strings.ToLower(attr(c, "type")), value: attr(c, "value")}
				if in.typ == "" {
					in.typ = "submit"
				}
			case atom.Textarea:
				in = &formInput{tag: "textarea", typ: "textarea", value: text(c)}
			case atom.Select:
				in = &formInput{tag: "select", typ: "select"}
				first := true
				walk(c, func(o *html.Node) bool {
					if o.Type == html.ElementNode && o.DataAtom == atom.Option {
						v, ok := attrOK(o, "value")
						if !ok {
							v = text(o)
						}
						if _, sel := attrOK(o, "selected"); sel || first {
							in.value = v
						}
						first = false
					}
					return true
				})
			default:
				return true
			}
			in.name = attr(c, "name")
			id := attr(c, "id")
			in.label = labels[id]
			if in.label == "" {
				for a := c.Parent; a != nil && a != n; a = a.Parent {
					if a.Type == html.ElementNode && a.DataAtom == atom.Label {
						in.label = text(a)
						break
					}
				}
			}
			in.hint = strings.ToLower(strings.Join([]string{in.name, id, attr(c, "placeholder"),
				attr(c, "autocomplete"), attr(c, "aria-label"), in.label}, " "))
			f.inputs = append(f.inputs, in)
			return c.DataAtom != atom.Select && c.DataAtom != atom.Textarea
		})
		p.forms = append(p.forms, f)
		return false
	})
	return p
}

// errorText returns the text of elements whose id or class mentions an
// error (the IdP's "wrong password" banner), short and on one line.
func (p *page) errorText(secrets ...string) string {
	var parts []string
	walk(p.doc, func(n *html.Node) bool {
		if n.Type != html.ElementNode {
			return true
		}
		if n.DataAtom == atom.Script || n.DataAtom == atom.Style {
			return false
		}
		key := strings.ToLower(attr(n, "id") + " " + attr(n, "class"))
		if strings.Contains(key, "error") || strings.Contains(key, "alert") {
			t := headline(n)
			if t == "" {
				t = text(n)
			}
			if t == "" && n.DataAtom == atom.Img && n.Parent != nil {
				// An error icon: the message is beside it.
				if t = headline(n.Parent); t == "" {
					t = text(n.Parent)
				}
			}
			if t != "" {
				parts = append(parts, t)
				return false
			}
		}
		return true
	})
	return oneLine(strings.Join(parts, "; "), 160, secrets...)
}

// headline is the text of the first <strong> or <b> inside an error box:
// IdPs put the one-line reason there ("Incorrect username or password") and
// the explanation around it.
func headline(n *html.Node) string {
	var t string
	walk(n, func(c *html.Node) bool {
		if t != "" {
			return false
		}
		if c.Type == html.ElementNode && (c.DataAtom == atom.Strong || c.DataAtom == atom.B) {
			t = text(c)
			return false
		}
		return true
	})
	return t
}

// describe says which page this is, for an error: status, title, host and
// path (no query, no body).
func (p *page) describe() string {
	title := oneLine(p.title, 80)
	if title == "" {
		title = "(none)"
	}
	return fmt.Sprintf("HTTP %d, page title %q, at %s://%s", p.status, title, oneLine(p.url.Scheme, 10), where(p.url))
}

func (f *htmlForm) has(name string) *formInput {
	for _, in := range f.inputs {
		if in.name == name {
			return in
		}
	}
	return nil
}

func (f *htmlForm) firstOfType(typ string) *formInput {
	for _, in := range f.inputs {
		if in.typ == typ {
			return in
		}
	}
	return nil
}

// textual reports inputs a person types into.
func (in *formInput) textual() bool {
	switch in.typ {
	case "text", "email", "tel", "number", "search", "textarea":
		return true
	}
	return false
}

// The patterns are compiled on first use: every rolehop process links this
// package, most never read a login form.
var (
	otpRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`otp|one-time|one time|passcode|\bcode\b|code\b|token|totp|mfa|2fa|verification|authenticator`)
	})
	userRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`user|login|email|e-mail|uid|account|principal`) })
)

func (in *formInput) looksOTP() bool {
	return (in.textual() || in.typ == "password") && in.name != "" && otpRE().MatchString(in.hint)
}

// visibleTextInputs are the inputs a person would fill.
func (f *htmlForm) visibleTextInputs() []*formInput {
	var out []*formInput
	for _, in := range f.inputs {
		if in.textual() && in.name != "" {
			out = append(out, in)
		}
	}
	return out
}

// values returns what a browser would submit, with the first named submit
// button counted as clicked. Nameless inputs are skipped.
func (f *htmlForm) values() url.Values {
	v := url.Values{}
	clicked := false
	for _, in := range f.inputs {
		if in.name == "" {
			continue
		}
		switch in.typ {
		case "submit", "image":
			if !clicked {
				v.Add(in.name, in.value)
				clicked = true
			}
		case "button", "reset", "file":
		case "checkbox", "radio":
			if in.checked {
				val := in.value
				if val == "" {
					val = "on"
				}
				v.Add(in.name, val)
			}
		default:
			v.Add(in.name, in.value)
		}
	}
	return v
}

func walk(n *html.Node, fn func(*html.Node) bool) {
	if !fn(n) {
		return
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) bool {
		if c.Type == html.ElementNode && (c.DataAtom == atom.Script || c.DataAtom == atom.Style) {
			return false
		}
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
			b.WriteByte(' ')
		}
		return true
	})
	return strings.Join(strings.Fields(b.String()), " ")
}

package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	gokeyring "github.com/zalando/go-keyring"
	"golang.org/x/term"

	"github.com/rolehop/rolehop/saml/idp"
)

// Errors of the terminal prompter; both are bad input (exit code 2).
var (
	errNoUsername = errors.New("no username: pass --username, set username in the login profile or ROLEHOP_USERNAME, or run on a terminal")
	errNoPassword = errors.New("no password: pipe it to --password-stdin, turn on --keyring, or run on a terminal")
)

// terminalPrompter is the idp.Prompter of login and roles. The username comes
// from flags/settings or a prompt; the password from stdin
// (--password-stdin), the OS keyring (--keyring) or a hidden prompt; a
// one-time code from a prompt. Prompts go to stderr and read the terminal on
// stdin; nothing is ever written to stdout. The password is kept in memory
// once read, so a later login (--keep-fresh) does not ask again.
type terminalPrompter struct {
	io            *IOStreams
	username      string
	passwordStdin bool
	keyring       *keyringStore // nil when --keyring is off

	// onPassword, when set, runs once a password is at hand (the login can
	// then show its progress); status is what it started, erased before any
	// later prompt (a one-time code).
	onPassword func()
	status     *status

	mu       sync.Mutex
	in       *bufio.Reader
	password string
	havePass bool
	typed    bool // the password was typed or piped (not from the keyring)
}

var (
	_ idp.Prompter = (*terminalPrompter)(nil)
	_ idp.Notifier = (*terminalPrompter)(nil)
)

func (p *terminalPrompter) reader() *bufio.Reader {
	if p.in == nil {
		p.in = bufio.NewReader(p.io.In)
	}
	return p.in
}

// readLine reads one line, without its line ending.
func (p *terminalPrompter) readLine() (string, error) {
	s, err := p.reader().ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// Username returns the configured username or asks for it on the terminal.
func (p *terminalPrompter) Username(context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.username != "" {
		return p.username, nil
	}
	if !p.io.InTerminal || p.passwordStdin {
		return "", usageError(errNoUsername)
	}
	fmt.Fprint(p.io.ErrOut, "Username: ")
	u, err := p.readLine()
	if err != nil {
		return "", fmt.Errorf("read username: %w", err)
	}
	u = strings.TrimSpace(u)
	if u == "" {
		return "", usageError(errNoUsername)
	}
	p.username = u
	return u, nil
}

// Password returns the password from stdin, the keyring or a hidden prompt.
func (p *terminalPrompter) Password(context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer func() {
		if p.onPassword != nil && p.status == nil {
			p.onPassword()
		}
	}()
	if p.havePass {
		return p.password, nil
	}
	if p.keyring != nil && p.username != "" {
		if pw, ok := p.keyring.get(p.username); ok {
			p.password, p.havePass = pw, true
			return pw, nil
		}
	}
	var pw string
	switch {
	case p.passwordStdin:
		line, err := p.readLine()
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		if line == "" {
			return "", usageError(errors.New("--password-stdin: stdin held no password; pipe it in, e.g. printf %s \"$PW\" | rolehop login --password-stdin"))
		}
		pw = line
	case p.io.InTerminal && p.io.InFd >= 0:
		fmt.Fprintf(p.io.ErrOut, "Password for %s: ", p.username)
		b, err := term.ReadPassword(p.io.InFd)
		fmt.Fprintln(p.io.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		pw = string(b)
	default:
		return "", usageError(errNoPassword)
	}
	p.password, p.havePass, p.typed = pw, true, true
	return pw, nil
}

// OTP asks for a one-time code on the terminal.
func (p *terminalPrompter) OTP(_ context.Context, factor string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status.done()
	if !p.io.InTerminal || p.passwordStdin {
		return "", fmt.Errorf("%w (%s): run rolehop login on a terminal to type it", idp.ErrMFARequired, factor)
	}
	if factor == "" {
		factor = "one-time code"
	}
	fmt.Fprintf(p.io.ErrOut, "%s: ", factor)
	code, err := p.readLine()
	if err != nil {
		return "", fmt.Errorf("read one-time code: %w", err)
	}
	return strings.TrimSpace(code), nil
}

// Notify tells the person something to do (a push to approve, the number to
// tap, the browser window to sign in at), on stderr.
func (p *terminalPrompter) Notify(_ context.Context, message string) {
	p.status.done()
	fmt.Fprintf(p.io.ErrOut, "\rrolehop: %s\n", message)
}

// rememberPassword stores a typed password in the keyring after a login it
// made succeed (only with --keyring).
func (p *terminalPrompter) rememberPassword() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keyring == nil || !p.typed || p.username == "" {
		return nil
	}
	return p.keyring.set(p.username, p.password)
}

// forgetPassword drops a password the IdP rejected: from memory and, when
// it came from there, from the keyring.
func (p *terminalPrompter) forgetPassword() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keyring != nil && p.havePass && !p.typed && p.username != "" {
		p.keyring.remove(p.username)
	}
	p.password, p.havePass, p.typed = "", false, false
}

// keyringService is the OS keyring service rolehop's items live under.
const keyringService = "rolehop"

// keyringStore keeps IdP passwords in the OS keyring (Secret Service on
// Linux, the macOS Keychain, Windows Credential Manager), one item per login
// profile and username. zalando/go-keyring talks to the keyring only when
// called: nothing happens at program start (credential-process's hot path).
type keyringStore struct {
	login string
}

// openKeyring checks that the OS keyring answers, so a missing one is
// reported before the login rather than after it.
func openKeyring(login string) (*keyringStore, error) {
	if login == "" {
		login = "default"
	}
	k := &keyringStore{login: login}
	if _, err := gokeyring.Get(keyringService, k.key("probe")); err != nil && !errors.Is(err, gokeyring.ErrNotFound) {
		return nil, fmt.Errorf("open the os keyring for --keyring: %w; drop --keyring and type the password or pipe it to --password-stdin", err)
	}
	return k, nil
}

func (k *keyringStore) key(user string) string { return "login:" + k.login + ":" + user }

func (k *keyringStore) get(user string) (string, bool) {
	pw, err := gokeyring.Get(keyringService, k.key(user))
	if err != nil || pw == "" {
		return "", false
	}
	return pw, true
}

func (k *keyringStore) set(user, pw string) error {
	if err := gokeyring.Set(keyringService, k.key(user), pw); err != nil {
		return fmt.Errorf("save the password in the os keyring: %w", err)
	}
	return nil
}

func (k *keyringStore) remove(user string) { _ = gokeyring.Delete(keyringService, k.key(user)) }

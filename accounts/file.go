package accounts

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rolehop/rolehop/awsarn"
)

// MaxFileSize bounds an accounts file (64 MiB: millions of lines).
const MaxFileSize = 64 << 20

// Format of an accounts file.
type Format int

// The formats ReadFile knows, chosen by the file's extension.
const (
	// Lines: one account per line, "ID" or "ID ALIAS" (or an alias alone,
	// resolved later); blank lines and # comments ignored. Any extension
	// other than the ones below.
	Lines Format = iota
	// CSV (.csv): a header row; the column id (or account, account_id)
	// holds the ID, alias (or name) the alias, every other column is a tag.
	CSV
	// YAML (.yaml, .yml): a list of {id, alias, tags} entries, or a map of
	// ID to an alias (accounts.yaml's form) or to {alias, tags}.
	YAML
)

// FormatOf returns the format of the file name.
func FormatOf(name string) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return CSV
	case ".yaml", ".yml":
		return YAML
	}
	return Lines
}

// ReadFile reads an accounts file in the format its name says ("-" is
// standard input in Lines format, read from stdin). Aliases that are not
// IDs in a Lines file are returned as accounts with an empty ID and the
// alias set, for Resolve.
func ReadFile(name string, stdin io.Reader) ([]Account, error) {
	var r io.Reader
	if name == "-" {
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read accounts file: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read accounts file %s: %w", name, err)
	}
	if len(b) > MaxFileSize {
		return nil, invalid("%s: over %d MiB; split it", name, MaxFileSize>>20)
	}
	f := Lines
	if name != "-" {
		f = FormatOf(name)
	}
	return Parse(name, f, b)
}

// Parse reads accounts from b in format f; name is used in errors.
func Parse(name string, f Format, b []byte) ([]Account, error) {
	switch f {
	case CSV:
		return parseCSV(name, b)
	case YAML:
		return parseYAML(name, b)
	}
	return parseLines(name, b)
}

func parseLines(name string, b []byte) ([]Account, error) {
	var out []Account
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		switch len(fields) {
		case 0:
			continue
		case 1:
			if awsarn.IsAccountID(fields[0]) {
				out = append(out, Account{ID: fields[0]})
			} else {
				out = append(out, Account{Alias: fields[0]})
			}
		case 2:
			if !awsarn.IsAccountID(fields[0]) {
				return nil, invalid("%s: line %d: want ID [ALIAS], and %q is not a 12-digit account ID", name, n, fields[0])
			}
			out = append(out, Account{ID: fields[0], Alias: fields[1]})
		default:
			return nil, invalid("%s: line %d: want ID [ALIAS] (use a .csv or .yaml file for tags)", name, n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, invalid("%s: line %d: %v", name, n+1, err)
	}
	return out, nil
}

func parseCSV(name string, b []byte) ([]Account, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, invalid("%s: %v", name, csvMessage(err))
	}
	idCol, aliasCol := -1, -1
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		header[i] = strings.TrimSpace(header[i])
		switch {
		case idCol < 0 && slices.Contains([]string{"id", "account", "account_id", "accountid"}, h):
			idCol = i
		case aliasCol < 0 && slices.Contains([]string{"alias", "name"}, h):
			aliasCol = i
		}
	}
	if idCol < 0 {
		return nil, invalid("%s: line 1: no id column; the header must name one column id (or account, account_id)", name)
	}
	var out []Account
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, invalid("%s: %v", name, csvMessage(err))
		}
		line, _ := r.FieldPos(0)
		id := strings.TrimSpace(rec[idCol])
		if !awsarn.IsAccountID(id) {
			return nil, invalid("%s: line %d: the id column is not a 12-digit account ID", name, line)
		}
		a := Account{ID: id}
		if aliasCol >= 0 {
			a.Alias = strings.TrimSpace(rec[aliasCol])
		}
		for i, v := range rec {
			if i == idCol || i == aliasCol || header[i] == "" {
				continue
			}
			if a.Tags == nil {
				a.Tags = map[string]string{}
			}
			a.Tags[header[i]] = strings.TrimSpace(v)
		}
		out = append(out, a)
	}
	return out, nil
}

// csvMessage is encoding/csv's error without the record's text.
func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("line %d: %v", pe.Line, pe.Err)
	}
	return err.Error()
}

func parseYAML(name string, b []byte) ([]Account, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, invalid("%s: %s", name, yamlMessage(err))
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	var out []Account
	switch root.Kind {
	case yaml.SequenceNode:
		for _, n := range root.Content {
			if n.Kind != yaml.MappingNode {
				return nil, invalid("%s: line %d: want an entry like {id: \"111111111111\", alias: prod, tags: {env: prod}}", name, n.Line)
			}
			a, err := yamlEntry(name, "", n)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], root.Content[i+1]
			if k.Kind != yaml.ScalarNode || !awsarn.IsAccountID(k.Value) {
				return nil, invalid("%s: line %d: key is not a 12-digit account ID; quote IDs with leading zeros", name, k.Line)
			}
			switch v.Kind {
			case yaml.ScalarNode:
				out = append(out, Account{ID: k.Value, Alias: v.Value})
			case yaml.MappingNode:
				a, err := yamlEntry(name, k.Value, v)
				if err != nil {
					return nil, err
				}
				out = append(out, a)
			default:
				return nil, invalid("%s: line %d: want an alias or {alias, tags} for account %s", name, v.Line, k.Value)
			}
		}
	default:
		return nil, invalid("%s: line %d: want a list of accounts or a map of account ID to alias", name, root.Line)
	}
	return out, nil
}

func yamlEntry(name, id string, n *yaml.Node) (Account, error) {
	a := Account{ID: id}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "id", "account", "account_id":
			if id != "" || v.Kind != yaml.ScalarNode || !awsarn.IsAccountID(v.Value) {
				return a, invalid("%s: line %d: id must be a 12-digit account ID (quoted when it has leading zeros)", name, v.Line)
			}
			a.ID = v.Value
		case "alias", "name":
			if v.Kind != yaml.ScalarNode {
				return a, invalid("%s: line %d: alias must be a string", name, v.Line)
			}
			a.Alias = v.Value
		case "tags":
			if v.Kind != yaml.MappingNode {
				return a, invalid("%s: line %d: tags must be a map, like {env: prod}", name, v.Line)
			}
			a.Tags = map[string]string{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				tk, tv := v.Content[j], v.Content[j+1]
				if tk.Kind != yaml.ScalarNode || tv.Kind != yaml.ScalarNode {
					return a, invalid("%s: line %d: a tag is KEY: VALUE, both strings", name, tk.Line)
				}
				a.Tags[tk.Value] = tv.Value
			}
		default:
			return a, invalid("%s: line %d: unknown key %q; an entry has id, alias and tags", name, k.Line, k.Value)
		}
	}
	if a.ID == "" {
		return a, invalid("%s: line %d: entry without id", name, n.Line)
	}
	return a, nil
}

// yamlMessage is yaml.v3's error without its "yaml: " prefix.
func yamlMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

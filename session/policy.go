package session

import "encoding/json"

// PolicyVersion is the IAM policy language version a Policy gets when its
// Version is empty.
const PolicyVersion = "2012-10-17"

// Policy is an IAM policy document, for an inline session policy
// (SessionPolicy.Policy). It marshals to the JSON IAM reads.
type Policy struct {
	Version   string            // "" means PolicyVersion
	Statement []PolicyStatement // at least one
}

// PolicyStatement is one statement of a Policy. Empty fields are left out of
// the JSON.
type PolicyStatement struct {
	Sid         string
	Effect      string // Allow or Deny
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	// Condition maps an operator to keys and values, as IAM writes it:
	// {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}.
	Condition map[string]map[string]any
}

// MarshalJSON writes the document with the default Version.
func (p Policy) MarshalJSON() ([]byte, error) {
	v := p.Version
	if v == "" {
		v = PolicyVersion
	}
	stmts := p.Statement
	if stmts == nil {
		stmts = []PolicyStatement{}
	}
	return json.Marshal(struct {
		Version   string
		Statement []PolicyStatement
	}{v, stmts})
}

// MarshalJSON leaves out empty fields.
func (s PolicyStatement) MarshalJSON() ([]byte, error) {
	type out struct {
		Sid         string                    `json:",omitempty"`
		Effect      string                    `json:"Effect"`
		Action      []string                  `json:",omitempty"`
		NotAction   []string                  `json:",omitempty"`
		Resource    []string                  `json:",omitempty"`
		NotResource []string                  `json:",omitempty"`
		Condition   map[string]map[string]any `json:",omitempty"`
	}
	return json.Marshal(out(s))
}

package accounts

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/rolehop/rolehop/fanout"
)

// OrganizationsAPI is what Organizations calls: the SDK's
// *organizations.Client satisfies it.
type OrganizationsAPI interface {
	organizations.ListAccountsAPIClient
	organizations.ListAccountsForParentAPIClient
	organizations.ListOrganizationalUnitsForParentAPIClient
	organizations.ListRootsAPIClient
	organizations.ListTagsForResourceAPIClient
}

// OrgOptions say which accounts of an organization Organizations lists.
type OrgOptions struct {
	// OUs are organizational units (ou-...) or roots (r-...) whose
	// accounts are selected, with every child unit's; empty means the
	// whole organization.
	OUs []string
	// ExcludeOUs are units whose accounts (and children's) are left out.
	ExcludeOUs []string
	// Tags fetches every selected account's tags (one ListTagsForResource
	// call per account), for tag filters.
	Tags bool
	// Parallel bounds concurrent tag calls; 0 means 8.
	Parallel int
}

// ValidateParent checks an OU or root ID's shape, as Organizations does:
// ou-[0-9a-z]{4,32}-[a-z0-9]{8,32} or r-[0-9a-z]{4,32}. (Checked by hand:
// these patterns as regexps cost every rolehop process ~900 allocations at
// start.)
func ValidateParent(id string) error {
	if rest, ok := strings.CutPrefix(id, "ou-"); ok {
		root, ou, found := strings.Cut(rest, "-")
		if found && lowerAlnum(root, 4, 32) && lowerAlnum(ou, 8, 32) {
			return nil
		}
	} else if rest, ok := strings.CutPrefix(id, "r-"); ok && lowerAlnum(rest, 4, 32) {
		return nil
	}
	return invalid("%q is not an organizational unit ID (ou-xxxx-xxxxxxxx) or root ID (r-xxxx)", id)
}

// Organizations lists the ACTIVE accounts of the organization the client's
// credentials can read (its management account or a delegated
// administrator): all of them with ListAccounts, or those under OUs and
// their children (ListAccountsForParent, ListOrganizationalUnitsForParent),
// leaving out ExcludeOUs' subtrees. Aliases are the accounts' names.
// Throttling (TooManyRequestsException) is retried by the client's retryer:
// give it fanout.Retryer.
func Organizations(ctx context.Context, c OrganizationsAPI, o OrgOptions) ([]Account, error) {
	for _, id := range append(append([]string(nil), o.OUs...), o.ExcludeOUs...) {
		if err := ValidateParent(id); err != nil {
			return nil, err
		}
	}
	var out []Account
	var err error
	if len(o.OUs) == 0 && len(o.ExcludeOUs) == 0 {
		out, err = listAll(ctx, c)
	} else {
		parents := o.OUs
		if len(parents) == 0 {
			if parents, err = roots(ctx, c); err != nil {
				return nil, err
			}
		}
		out, err = walk(ctx, c, parents, o.ExcludeOUs)
	}
	if err != nil {
		return nil, err
	}
	if o.Tags {
		if err := addTags(ctx, c, out, o.Parallel); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func active(a types.Account) bool {
	if a.State != "" {
		return a.State == types.AccountStateActive
	}
	return a.Status == types.AccountStatusActive
}

func fromOrg(a types.Account) Account {
	return Account{ID: aws.ToString(a.Id), Alias: strings.TrimSpace(aws.ToString(a.Name))}
}

func orgError(what string, err error) error {
	return fmt.Errorf("organizations %s (the credentials must be the management account's or a delegated administrator's): %w", what, err)
}

func listAll(ctx context.Context, c OrganizationsAPI) ([]Account, error) {
	var out []Account
	p := organizations.NewListAccountsPaginator(c, &organizations.ListAccountsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, orgError("ListAccounts", err)
		}
		for _, a := range page.Accounts {
			if active(a) {
				out = append(out, fromOrg(a))
			}
		}
	}
	slices.SortFunc(out, func(a, b Account) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func roots(ctx context.Context, c OrganizationsAPI) ([]string, error) {
	var out []string
	p := organizations.NewListRootsPaginator(c, &organizations.ListRootsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, orgError("ListRoots", err)
		}
		for _, r := range page.Roots {
			out = append(out, aws.ToString(r.Id))
		}
	}
	return out, nil
}

// walk lists the accounts under parents and their children, depth first,
// skipping excluded units; each unit is visited once.
func walk(ctx context.Context, c OrganizationsAPI, parents, exclude []string) ([]Account, error) {
	skip := map[string]bool{}
	for _, id := range exclude {
		skip[id] = true
	}
	seen := map[string]bool{}
	var out []Account
	stack := slices.Clone(parents)
	slices.Reverse(stack)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if skip[id] || seen[id] {
			continue
		}
		seen[id] = true
		pa := organizations.NewListAccountsForParentPaginator(c, &organizations.ListAccountsForParentInput{ParentId: aws.String(id)})
		for pa.HasMorePages() {
			page, err := pa.NextPage(ctx)
			if err != nil {
				return nil, orgError("ListAccountsForParent "+id, err)
			}
			for _, a := range page.Accounts {
				if active(a) {
					out = append(out, fromOrg(a))
				}
			}
		}
		var children []string
		po := organizations.NewListOrganizationalUnitsForParentPaginator(c, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(id)})
		for po.HasMorePages() {
			page, err := po.NextPage(ctx)
			if err != nil {
				return nil, orgError("ListOrganizationalUnitsForParent "+id, err)
			}
			for _, ou := range page.OrganizationalUnits {
				children = append(children, aws.ToString(ou.Id))
			}
		}
		slices.Reverse(children)
		stack = append(stack, children...)
	}
	return Merge(out), nil
}

func addTags(ctx context.Context, c OrganizationsAPI, as []Account, parallel int) error {
	if parallel <= 0 {
		parallel = 8
	}
	res := fanout.Map(ctx, as, func(ctx context.Context, a Account) (map[string]string, error) {
		tags := map[string]string{}
		p := organizations.NewListTagsForResourcePaginator(c, &organizations.ListTagsForResourceInput{ResourceId: aws.String(a.ID)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, t := range page.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
		return tags, nil
	}, fanout.Options{Parallel: parallel})
	for i, r := range res {
		if r.Err != nil {
			return orgError("ListTagsForResource "+as[i].ID, r.Err)
		}
		as[i].Tags = r.Value
	}
	return nil
}

// lowerAlnum reports whether s is min to max characters of [0-9a-z].
func lowerAlnum(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

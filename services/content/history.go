package content

import (
	"context"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// VersionInfo summarises a saved version.
type VersionInfo struct {
	Version int
	SavedBy string
	SavedAt time.Time
}

// TransitionRecord is one recorded workflow step.
type TransitionRecord struct {
	Action   Action
	From, To State
	Actor    string
	Comment  string
	Version  int
	Time     time.Time
}

// RoleGrant is a role held by a subject in a ministry.
type RoleGrant struct {
	Ministry, Subject string
	Role              Role
	GrantTime         time.Time
}

// ListVersions lists an item's versions, newest first.
func (s *Service) ListVersions(ctx context.Context, p Principal, id string, size int32, token string) ([]VersionInfo, string, error) {
	limit, offset, err := parsePage(size, token, 50, 200)
	if err != nil {
		return nil, "", err
	}
	if _, err := s.GetItem(ctx, p, id); err != nil {
		return nil, "", err
	}
	out, err := versionInfos(ctx, s.DB, id, limit+1, offset)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out, next = out[:limit], pageToken(offset+limit)
	}
	return out, next, nil
}

// GetVersion returns the item with one version's content.
func (s *Service) GetVersion(ctx context.Context, p Principal, id string, version int) (Item, error) {
	if version < 1 {
		return Item{}, &rpcerr.FieldError{Field: "version", Reason: "must be a version number (1 or more)", Code: "version.range"}
	}
	it, err := loadItem(ctx, s.DB, id, version)
	if err != nil {
		return Item{}, err
	}
	return it, s.canRead(ctx, p, it.Ministry)
}

// DiffVersions compares two versions of an item field by field.
func (s *Service) DiffVersions(ctx context.Context, p Principal, id string, from, to int) ([]Change, error) {
	var fe fieldErrs
	if from < 1 {
		fe.add("from_version", "range", "must be a version number (1 or more)")
	}
	if to < 1 {
		fe.add("to_version", "range", "must be a version number (1 or more)")
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	a, err := s.GetVersion(ctx, p, id, from)
	if err != nil {
		return nil, err
	}
	b, err := s.GetVersion(ctx, p, id, to)
	if err != nil {
		return nil, err
	}
	return Diff(a.Content, b.Content), nil
}

// ListTransitions returns an item's workflow history, oldest first.
func (s *Service) ListTransitions(ctx context.Context, p Principal, id string) ([]TransitionRecord, error) {
	if _, err := s.GetItem(ctx, p, id); err != nil {
		return nil, err
	}
	return transitions(ctx, s.DB, id)
}

// RoleAdmin is the verified client that manages roles: a ministry's admin
// app (content:roles) manages its own ministry only; the platform's
// operator (content:admin) manages every ministry.
type RoleAdmin struct {
	// ClientID is recorded as the grantor.
	ClientID string
	// Ministry is the client's registered ministry (the token's
	// "ministry" claim); "" manages no ministry unless Platform.
	Ministry string
	// Platform is true for a client holding content:admin.
	Platform bool
}

// PlatformAdmin is the platform operator's client clientID (content:admin).
func PlatformAdmin(clientID string) RoleAdmin { return RoleAdmin{ClientID: clientID, Platform: true} }

// manages checks that a may administer ministry's roles (403 otherwise).
func (a RoleAdmin) manages(ministry string) error {
	switch {
	case a.Platform:
		return nil
	case a.Ministry == "":
		return fmt.Errorf("%w: client %s is registered with no ministry, so it manages no ministry's roles", rpcerr.ErrPermissionDenied, a.ClientID)
	case a.Ministry != ministry:
		return fmt.Errorf("%w: a client of ministry %s cannot manage the roles of ministry %s", rpcerr.ErrPermissionDenied, a.Ministry, ministry)
	}
	return nil
}

// GrantRole grants subject a role in ministry. admin is the client that
// manages roles; it is recorded.
func (s *Service) GrantRole(ctx context.Context, admin RoleAdmin, ministry, subject, role string) (RoleGrant, error) {
	r, err := s.checkGrant(ministry, subject, role)
	if err != nil {
		return RoleGrant{}, err
	}
	if err := admin.manages(ministry); err != nil {
		return RoleGrant{}, err
	}
	now := s.Now()
	g, err := upsertRole(ctx, s.DB, ministry, subject, r, admin.ClientID, now)
	if err != nil {
		return RoleGrant{}, fmt.Errorf("grant role: %w", err)
	}
	return g, nil
}

// RevokeRole removes a role; revoking a role not held is NotFound. admin
// must manage ministry, as for GrantRole.
func (s *Service) RevokeRole(ctx context.Context, admin RoleAdmin, ministry, subject, role string) error {
	r, err := s.checkGrant(ministry, subject, role)
	if err != nil {
		return err
	}
	if err := admin.manages(ministry); err != nil {
		return err
	}
	held, err := deleteRole(ctx, s.DB, ministry, subject, r)
	if err != nil {
		return fmt.Errorf("revoke role: %w", err)
	}
	if !held {
		return fmt.Errorf("%w: %s holds no %s role in ministry %s", rpcerr.ErrNotFound, subject, r, ministry)
	}
	return nil
}

func (s *Service) checkGrant(ministry, subject, role string) (Role, error) {
	var fe fieldErrs
	if err := ValidateMinistry("ministry", ministry); err != nil {
		fe = append(fe, err)
	}
	switch {
	case subject == "":
		fe.add("subject", "required", "is required: the token subject (a citizen id or a client id)")
	case len(subject) > 128:
		fe.add("subject", "too_many_bytes", "must be at most %s bytes", "128")
	default:
		plain(&fe, "subject", subject, 128, true)
	}
	r, err := ParseRole("role", role)
	if err != nil {
		fe = append(fe, err)
	}
	return r, fe.err()
}

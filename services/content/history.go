package content

import (
	"context"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
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
	rows, err := s.db.QueryContext(ctx, `SELECT version, saved_by, saved_at FROM content_versions WHERE item_id = $1
		ORDER BY version DESC LIMIT $2 OFFSET $3`, id, limit+1, offset)
	if err != nil {
		return nil, "", fmt.Errorf("versions of %s: %w", id, err)
	}
	defer rows.Close()
	var out []VersionInfo
	for rows.Next() {
		var v VersionInfo
		if err := rows.Scan(&v.Version, &v.SavedBy, store.ScanTime(&v.SavedAt)); err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
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
		return Item{}, &rpcerr.FieldError{Field: "version", Reason: "must be a version number (1 or more)"}
	}
	it, err := loadItem(ctx, s.db, id, version)
	if err != nil {
		return Item{}, err
	}
	return it, s.canRead(ctx, p, it.Ministry)
}

// DiffVersions compares two versions of an item field by field.
func (s *Service) DiffVersions(ctx context.Context, p Principal, id string, from, to int) ([]Change, error) {
	var fe fieldErrs
	if from < 1 {
		fe.add("from_version", "must be a version number (1 or more)")
	}
	if to < 1 {
		fe.add("to_version", "must be a version number (1 or more)")
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
	return transitions(ctx, s.db, id)
}

func transitions(ctx context.Context, q querier, id string) ([]TransitionRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT action, from_state, to_state, actor, comment, version, at
		FROM content_transitions WHERE item_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("transitions of %s: %w", id, err)
	}
	defer rows.Close()
	var out []TransitionRecord
	for rows.Next() {
		var t TransitionRecord
		if err := rows.Scan(&t.Action, &t.From, &t.To, &t.Actor, &t.Comment, &t.Version, store.ScanTime(&t.Time)); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
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
	now := s.now()
	var g RoleGrant
	err = s.db.QueryRowContext(ctx, `INSERT INTO content_roles (ministry, subject, role, granted_by, granted_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ministry, subject, role) DO UPDATE SET role = excluded.role
		RETURNING ministry, subject, role, granted_at`, ministry, subject, string(r), admin.ClientID, now).
		Scan(&g.Ministry, &g.Subject, &g.Role, store.ScanTime(&g.GrantTime))
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
	res, err := s.db.ExecContext(ctx, `DELETE FROM content_roles WHERE ministry = $1 AND subject = $2 AND role = $3`, ministry, subject, string(r))
	if err != nil {
		return fmt.Errorf("revoke role: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s holds no %s role in ministry %s", rpcerr.ErrNotFound, subject, r, ministry)
	}
	return nil
}

func (s *Service) checkGrant(ministry, subject, role string) (Role, error) {
	var fe fieldErrs
	if err := ValidateMinistry("ministry", ministry); err != nil {
		fe = append(fe, err)
	}
	if subject == "" || len(subject) > 128 {
		fe.add("subject", "is required: the token subject (a citizen id or a client id), at most 128 characters")
	} else {
		plain(&fe, "subject", subject, 128, true)
	}
	r, err := ParseRole("role", role)
	if err != nil {
		fe = append(fe, err)
	}
	return r, fe.err()
}

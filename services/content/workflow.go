package content

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// State is where an item is in the editorial workflow.
type State string

// The workflow states (issue 7): draft → in_review → approved → published,
// rejected back to draft, unpublished and archived.
const (
	StateDraft       State = "draft"
	StateInReview    State = "in_review"
	StateApproved    State = "approved"
	StatePublished   State = "published"
	StateRejected    State = "rejected"
	StateUnpublished State = "unpublished"
	StateArchived    State = "archived"
)

// States lists every state.
var States = []State{StateDraft, StateInReview, StateApproved, StatePublished, StateRejected, StateUnpublished, StateArchived}

// Role is what a subject may do in one ministry. Roles do not imply each
// other: a publisher who should also approve is granted editor as well.
type Role string

// The editorial roles.
const (
	RoleAuthor    Role = "author"    // creates, edits, submits, rolls back
	RoleEditor    Role = "editor"    // edits, approves or rejects with a comment, rolls back
	RolePublisher Role = "publisher" // publishes, schedules, unpublishes, archives
)

// Roles lists every role.
var Roles = []Role{RoleAuthor, RoleEditor, RolePublisher}

// ParseRole checks a role name.
func ParseRole(field, s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", &rpcerr.FieldError{Field: field, Reason: "must be author, editor or publisher", Code: rpcerr.FieldCode(field, "unsupported")}
}

// Action is one workflow step; transitions record it.
type Action string

// The actions. Schedule is a publish with a future publish_time; Expire and
// the scheduled Publish are done by the scheduler.
const (
	ActionCreate    Action = "create"
	ActionSave      Action = "save"
	ActionSubmit    Action = "submit"
	ActionApprove   Action = "approve"
	ActionReject    Action = "reject"
	ActionPublish   Action = "publish"
	ActionSchedule  Action = "schedule"
	ActionUnpublish Action = "unpublish"
	ActionArchive   Action = "archive"
	ActionRollback  Action = "rollback"
	ActionExpire    Action = "expire"
)

// SchedulerActor is the actor recorded for the scheduler's transitions.
const SchedulerActor = "system:scheduler"

// rule is who may take an action and from which states.
type rule struct {
	roles []Role
	from  []State
}

// editable are the states a new version may be saved in: any but archived.
// Saving always returns the item to draft, so that every version is
// reviewed again before it is published.
var editable = []State{StateDraft, StateRejected, StateInReview, StateApproved, StatePublished, StateUnpublished}

// rules is the workflow table. TestWorkflowTable checks every role against
// every action.
var rules = map[Action]rule{
	ActionCreate:    {roles: []Role{RoleAuthor}},
	ActionSave:      {roles: []Role{RoleAuthor, RoleEditor}, from: editable},
	ActionRollback:  {roles: []Role{RoleAuthor, RoleEditor}, from: editable},
	ActionSubmit:    {roles: []Role{RoleAuthor}, from: []State{StateDraft, StateRejected}},
	ActionApprove:   {roles: []Role{RoleEditor}, from: []State{StateInReview}},
	ActionReject:    {roles: []Role{RoleEditor}, from: []State{StateInReview}},
	ActionPublish:   {roles: []Role{RolePublisher}, from: []State{StateApproved, StateUnpublished}},
	ActionSchedule:  {roles: []Role{RolePublisher}, from: []State{StateApproved, StateUnpublished}},
	ActionUnpublish: {roles: []Role{RolePublisher}, from: []State{StatePublished}},
	ActionArchive:   {roles: []Role{RolePublisher}, from: []State{StateDraft, StateRejected, StateInReview, StateApproved, StatePublished, StateUnpublished}},
}

// target is the state an action leads to from from.
func target(a Action, from State) State {
	switch a {
	case ActionCreate, ActionSave, ActionRollback:
		return StateDraft
	case ActionSubmit:
		return StateInReview
	case ActionApprove:
		return StateApproved
	case ActionReject:
		return StateRejected
	case ActionPublish:
		return StatePublished
	case ActionUnpublish, ActionExpire:
		if from == StatePublished {
			return StateUnpublished
		}
		return from
	case ActionArchive:
		return StateArchived
	}
	return from // schedule keeps the state until the time comes
}

// authorize checks that a subject holding held in ministry may take action a
// on an item in state from. A missing role is PermissionDenied (403), a
// wrong state FailedPrecondition (409).
func authorize(a Action, ministry string, held []Role, from State) error {
	r, ok := rules[a]
	if !ok {
		return fmt.Errorf("%w: %s is not an editorial action", rpcerr.ErrPermissionDenied, a)
	}
	if len(held) == 0 {
		return fmt.Errorf("%w: you have no role in ministry %s", rpcerr.ErrPermissionDenied, ministry)
	}
	if !slices.ContainsFunc(r.roles, func(x Role) bool { return slices.Contains(held, x) }) {
		return fmt.Errorf("%w: %s needs the %s role in ministry %s", rpcerr.ErrPermissionDenied, a, roleNames(r.roles), ministry)
	}
	if a != ActionCreate && !slices.Contains(r.from, from) {
		return fmt.Errorf("%w: cannot %s an item that is %s", rpcerr.ErrFailedPrecondition, a, from)
	}
	return nil
}

func roleNames(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

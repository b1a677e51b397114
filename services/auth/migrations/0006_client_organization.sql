-- Ministry clients gain the organisation they act for, as the operator
-- registered it (tamkeen clients create|set-organization --organization):
-- client tokens carry it (claim org_name) and an organisation seal's
-- certificate names it, never a name from a request. Empty until set.
ALTER TABLE clients ADD COLUMN organization TEXT NOT NULL DEFAULT '';

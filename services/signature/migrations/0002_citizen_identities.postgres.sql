-- Citizens' identities as the auth enabler recorded them (national ID,
-- given and family name), learnt from its citizen_registered and
-- citizen_proofed events (where they travel sealed to the identity key) and
-- kept sealed under the key-encryption key (AES-256-GCM, bound to the
-- citizen id). A signing certificate's subject comes from here, never from
-- the request. proofing_level is the level of the event the identity came
-- with: an identity from citizen_proofed is never replaced by one from a
-- later citizen_registered.
CREATE TABLE citizen_identities (
	citizen_id      TEXT PRIMARY KEY,
	identity_sealed BYTEA NOT NULL,
	proofing_level  TEXT NOT NULL,
	updated_at      TIMESTAMP NOT NULL
);

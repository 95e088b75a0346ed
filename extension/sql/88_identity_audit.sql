-- machi install script, part 88: what the audit trigger must never copy from
-- the identity tables (runs before 89_audit_attach.sql).  Personal fields
-- are ciphertext, but copies in the append-only audit log would outlive
-- erasure; wrapped data keys there would defeat crypto-shredding.  Columns
-- ending in _hash or _bidx are redacted by name already.
INSERT INTO machi.audit_redacted_column (table_name, column_name)
SELECT t::regclass, c
FROM (VALUES
	('machi.account_pii', ARRAY['email', 'phone', 'name', 'nickname', 'postal_code', 'address',
								'birthday', 'gender', 'occupation', 'contact']),
	('machi.data_key', ARRAY['wrapped']),
	('machi.outbox', ARRAY['recipient', 'subject', 'body', 'last_error']),
	('machi.account', ARRAY['lock_reason'])
) AS r(t, cols), unnest(cols) AS c;

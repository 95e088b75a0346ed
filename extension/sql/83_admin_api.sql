-- machi install script, part 83: the tenant administration API for
-- departments, categories (routing) and Open311 API keys.  Row-level
-- security does the tenant isolation: rows are created with the caller's
-- tenant, and other tenants' ids are not found.

CREATE FUNCTION machi.department_json(d machi.department) RETURNS jsonb
	LANGUAGE sql STABLE
	RETURN jsonb_build_object('id', d.department_id, 'name', d.name, 'name_en', d.name_en, 'active', d.active);
COMMENT ON FUNCTION machi.department_json(machi.department) IS 'A department as the admin API shows it.';

CREATE FUNCTION machi.category_json(c machi.category) RETURNS jsonb
	LANGUAGE sql STABLE
	RETURN jsonb_build_object('id', c.category_id, 'code', c.code, 'name', c.name, 'name_en', c.name_en,
							  'description', c.description, 'department_id', c.department_id,
							  'active', c.active, 'sort_order', c.sort_order);
COMMENT ON FUNCTION machi.category_json(machi.category) IS 'A category (with its routing) as the admin API shows it.';

CREATE FUNCTION machi.admin_require(resource text, action text) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF machi.current_tenant() IS NULL OR NOT machi.has_permission(resource, action) THEN
		PERFORM machi.fail(403, format('your role cannot %s %s', action, resource), NULL, 'forbidden');
	END IF;
END
$$;
COMMENT ON FUNCTION machi.admin_require(text, text) IS 'A 403 unless the caller is staff of a tenant whose role grants action on resource. (Changes by staff of a tenant whose contract ended are refused earlier, by api.handle, for every staff route.)';

CREATE FUNCTION machi.rt_admin_departments(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	src jsonb := coalesce(r.data, '{}');
	d machi.department;
	id bigint;
BEGIN
	IF r.method = 'GET' THEN
		PERFORM machi.admin_require('department', 'read');
		RETURN machi.ok(jsonb_build_object('departments',
			(SELECT coalesce(jsonb_agg(machi.department_json(x) ORDER BY x.department_id), '[]')
			 FROM machi.department x WHERE x.tenant_id = machi.current_tenant())));
	END IF;
	PERFORM machi.admin_require('department', 'update');
	IF jsonb_typeof(src) <> 'object' THEN
		PERFORM machi.fail(400, 'the body must be a JSON object');
	END IF;
	IF r.method = 'POST' THEN
		INSERT INTO machi.department (tenant_id, name, name_en)
		VALUES (machi.current_tenant(), machi.arg_text(src, 'name', true, 200), machi.arg_text(src, 'name_en', false, 200))
		RETURNING * INTO d;
		RETURN machi.ok(machi.department_json(d), 201);
	END IF;
	id := machi.arg_id(r.params, 'id');
	IF src ? 'active' AND jsonb_typeof(src->'active') <> 'boolean' THEN
		PERFORM machi.fail(400, 'active must be true or false', 'active', 'invalid');
	END IF;
	UPDATE machi.department x SET
		name = coalesce(machi.arg_text(src, 'name', false, 200), x.name),
		name_en = CASE WHEN src ? 'name_en' THEN machi.arg_text(src, 'name_en', false, 200) ELSE x.name_en END,
		active = coalesce((src->>'active')::boolean, x.active)
	WHERE x.tenant_id = machi.current_tenant() AND x.department_id = id
	RETURNING * INTO d;
	IF NOT FOUND THEN
		PERFORM machi.fail(404, 'no such department', NULL, 'not_found');
	END IF;
	RETURN machi.ok(machi.department_json(d));
END
$$;
COMMENT ON FUNCTION machi.rt_admin_departments(machi.request) IS
'GET/POST /v1/admin/departments, PATCH /v1/admin/departments/{id} {"name", "name_en", "active"}: the municipality''s departments (tenant admins change them).';

CREATE FUNCTION machi.rt_admin_categories(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	src jsonb := coalesce(r.data, '{}');
	c machi.category;
	id bigint;
	dept bigint;
BEGIN
	IF r.method = 'GET' THEN
		PERFORM machi.admin_require('category', 'read');
		RETURN machi.ok(jsonb_build_object('categories',
			(SELECT coalesce(jsonb_agg(machi.category_json(x) ORDER BY x.sort_order, x.code), '[]')
			 FROM machi.category x WHERE x.tenant_id = machi.current_tenant())));
	END IF;
	PERFORM machi.admin_require('category', 'update');
	IF jsonb_typeof(src) <> 'object' THEN
		PERFORM machi.fail(400, 'the body must be a JSON object');
	END IF;
	IF src ? 'department_id' THEN
		dept := machi.arg_number(src, 'department_id', 1, 9e15)::bigint;
		-- another tenant's department is "not found" like any unknown id
		IF NOT EXISTS (SELECT 1 FROM machi.department x WHERE x.tenant_id = machi.current_tenant()
					   AND x.department_id = dept) THEN
			PERFORM machi.fail(422, 'no such department in this municipality', 'department_id', 'unknown_department');
		END IF;
	END IF;
	IF src ? 'active' AND jsonb_typeof(src->'active') <> 'boolean' THEN
		PERFORM machi.fail(400, 'active must be true or false', 'active', 'invalid');
	END IF;
	IF r.method = 'POST' THEN
		IF dept IS NULL THEN
			PERFORM machi.fail(400, 'department_id is required', 'department_id', 'required');
		END IF;
		IF machi.arg_text(src, 'code', true, 64) !~ '^[A-Za-z0-9_.-]{1,64}$' THEN
			PERFORM machi.fail(400, 'code may hold letters, digits, _ . - only', 'code', 'invalid');
		END IF;
		INSERT INTO machi.category (tenant_id, code, name, name_en, description, department_id, sort_order)
		VALUES (machi.current_tenant(), src->>'code', machi.arg_text(src, 'name', true, 200),
				machi.arg_text(src, 'name_en', false, 200), machi.arg_text(src, 'description', false, 2000), dept,
				coalesce(machi.arg_number(src, 'sort_order', -1000, 1000, false)::int, 0))
		RETURNING * INTO c;
		RETURN machi.ok(machi.category_json(c), 201);
	END IF;
	id := machi.arg_id(r.params, 'id');
	UPDATE machi.category x SET
		name = coalesce(machi.arg_text(src, 'name', false, 200), x.name),
		name_en = CASE WHEN src ? 'name_en' THEN machi.arg_text(src, 'name_en', false, 200) ELSE x.name_en END,
		description = CASE WHEN src ? 'description' THEN machi.arg_text(src, 'description', false, 2000) ELSE x.description END,
		department_id = coalesce(dept, x.department_id),
		active = coalesce((src->>'active')::boolean, x.active),
		sort_order = coalesce(machi.arg_number(src, 'sort_order', -1000, 1000, false)::int, x.sort_order)
	WHERE x.tenant_id = machi.current_tenant() AND x.category_id = id
	RETURNING * INTO c;
	IF NOT FOUND THEN
		PERFORM machi.fail(404, 'no such category', NULL, 'not_found');
	END IF;
	RETURN machi.ok(machi.category_json(c));
END
$$;
COMMENT ON FUNCTION machi.rt_admin_categories(machi.request) IS
'GET/POST /v1/admin/categories, PATCH /v1/admin/categories/{id} {"code", "name", "name_en", "description", "department_id" (routing), "active", "sort_order"}: the municipality''s categories (tenant and department admins change them).';

CREATE FUNCTION machi.rt_admin_api_keys(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k record;
	id bigint;
BEGIN
	IF r.method = 'GET' THEN
		PERFORM machi.admin_require('api_key', 'read');
		RETURN machi.ok(jsonb_build_object('api_keys',
			(SELECT coalesce(jsonb_agg(jsonb_build_object('id', x.key_id, 'label', x.label, 'created_at', x.created_at,
														  'revoked_at', x.revoked_at) ORDER BY x.key_id), '[]')
			 FROM machi.api_key x WHERE x.tenant_id = machi.current_tenant())));
	END IF;
	PERFORM machi.admin_require('api_key', 'update');
	IF r.method = 'POST' THEN
		SELECT * INTO k FROM machi.new_api_key();
		INSERT INTO machi.api_key (tenant_id, label, key_hash)
		VALUES (machi.current_tenant(), machi.arg_text(coalesce(r.data, '{}'), 'label', true, 200), k.key_hash)
		RETURNING key_id INTO id;
		-- the key is shown this once; only its SHA-256 is kept
		RETURN machi.ok(jsonb_build_object('id', id, 'key', k.key), 201);
	END IF;
	id := machi.arg_id(r.params, 'id');
	UPDATE machi.api_key x SET revoked_at = now()
	WHERE x.tenant_id = machi.current_tenant() AND x.key_id = id AND x.revoked_at IS NULL;
	IF NOT FOUND THEN
		PERFORM machi.fail(404, 'no such active api key', NULL, 'not_found');
	END IF;
	RETURN machi.ok(jsonb_build_object('id', id, 'revoked', true));
END
$$;
COMMENT ON FUNCTION machi.rt_admin_api_keys(machi.request) IS
'GET/POST /v1/admin/api-keys {"label"} (the key is returned once), DELETE /v1/admin/api-keys/{id} (revoke): the municipality''s Open311 API keys (tenant admins).';

INSERT INTO machi.route (method, pattern, handler, auth, max_body, description) VALUES
	('GET', '/v1/admin/departments', 'machi.rt_admin_departments(machi.request)', 'staff', 0, 'The municipality''s departments.'),
	('POST', '/v1/admin/departments', 'machi.rt_admin_departments(machi.request)', 'staff', 4096, 'Add a department (tenant admins).'),
	('PATCH', '/v1/admin/departments/{id}', 'machi.rt_admin_departments(machi.request)', 'staff', 4096, 'Rename or (de)activate a department.'),
	('GET', '/v1/admin/categories', 'machi.rt_admin_categories(machi.request)', 'staff', 0, 'The municipality''s categories and their routing.'),
	('POST', '/v1/admin/categories', 'machi.rt_admin_categories(machi.request)', 'staff', 8192, 'Add a category routed to a department.'),
	('PATCH', '/v1/admin/categories/{id}', 'machi.rt_admin_categories(machi.request)', 'staff', 8192, 'Change a category or its routing.'),
	('GET', '/v1/admin/api-keys', 'machi.rt_admin_api_keys(machi.request)', 'staff', 0, 'The municipality''s Open311 API keys (never the keys themselves).'),
	('POST', '/v1/admin/api-keys', 'machi.rt_admin_api_keys(machi.request)', 'staff', 4096, 'Issue an Open311 API key (shown once).'),
	('DELETE', '/v1/admin/api-keys/{id}', 'machi.rt_admin_api_keys(machi.request)', 'staff', 0, 'Revoke an Open311 API key.');

-- wangge foundation schema. Geometry is stored in EPSG:4326 with typmod
-- columns and a GiST index each; codes follow GB/T 30428 (6+3+3+3 digits).
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE wangge_meta (
    key text PRIMARY KEY,
    value jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Admin hierarchy ---------------------------------------------------------
CREATE TABLE districts (
    code char(6) PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    name text NOT NULL,
    province text NOT NULL DEFAULT '',
    city text NOT NULL DEFAULT '',
    geom geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX districts_geom_gist ON districts USING gist (geom);

CREATE TABLE streets (
    code char(9) PRIMARY KEY CHECK (code ~ '^[0-9]{9}$'),
    district_code char(6) NOT NULL REFERENCES districts (code),
    name text NOT NULL,
    geom geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    CHECK (left(code, 6) = district_code)
);
CREATE INDEX streets_geom_gist ON streets USING gist (geom);
CREATE INDEX streets_district ON streets (district_code);

CREATE TABLE communities (
    code char(12) PRIMARY KEY CHECK (code ~ '^[0-9]{12}$'),
    street_code char(9) NOT NULL REFERENCES streets (code),
    name text NOT NULL,
    geom geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    -- bumped by every publish of new grids; planning proposals carry the
    -- version they were based on so a stale proposal is refused (412).
    grids_version integer NOT NULL DEFAULT 1,
    CHECK (left(code, 9) = street_code)
);
CREATE INDEX communities_geom_gist ON communities USING gist (geom);
CREATE INDEX communities_street ON communities (street_code);

-- Grids are versioned: a row is one version, current when valid_to IS NULL.
CREATE TABLE grids (
    id serial PRIMARY KEY,
    code char(15) NOT NULL CHECK (code ~ '^[0-9]{15}$'),
    community_code char(12) NOT NULL REFERENCES communities (code),
    name text NOT NULL,
    worker_name text NOT NULL DEFAULT '',
    worker_phone text NOT NULL DEFAULT '',
    geom geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    valid_from timestamptz NOT NULL DEFAULT now(),
    valid_to timestamptz,
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    CHECK (left(code, 12) = community_code)
);
CREATE UNIQUE INDEX grids_current_code ON grids (code) WHERE valid_to IS NULL;
CREATE INDEX grids_geom_gist ON grids USING gist (geom);
CREATE INDEX grids_current_geom_gist ON grids USING gist (geom) WHERE valid_to IS NULL;
CREATE INDEX grids_community ON grids (community_code, valid_from);

-- Layers ------------------------------------------------------------------
CREATE TABLE cameras (
    id serial PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('fixed', 'dome', 'high_point')),
    online boolean NOT NULL DEFAULT true,
    geom geometry(Point, 4326) NOT NULL
);
CREATE INDEX cameras_geom_gist ON cameras USING gist (geom);

CREATE TABLE waterlogging_points (
    id serial PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    sensor_id text NOT NULL UNIQUE,
    warn_level_cm real NOT NULL CHECK (warn_level_cm > 0),
    alarm_level_cm real NOT NULL,
    current_level_cm real NOT NULL DEFAULT 0 CHECK (current_level_cm >= 0),
    level_at timestamptz NOT NULL DEFAULT now(),
    geom geometry(Point, 4326) NOT NULL,
    CHECK (alarm_level_cm > warn_level_cm)
);
CREATE INDEX waterlogging_points_geom_gist ON waterlogging_points USING gist (geom);

CREATE TABLE stall_zones (
    id serial PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    kind text NOT NULL,
    opens time NOT NULL,
    closes time NOT NULL,
    daily_visitors integer NOT NULL DEFAULT 0 CHECK (daily_visitors >= 0),
    geom geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX stall_zones_geom_gist ON stall_zones USING gist (geom);

-- Addresses are matched in one normal form, computed in the database for
-- stored addresses and for queries alike: ASCII digits, no spaces or
-- punctuation, and one spelling of the building words (幢/号楼/座 → 栋).
CREATE FUNCTION wangge_address_key(address text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(
        translate(lower(address), '０１２３４５６７８９＃號', '0123456789#号'),
        '[[:space:]，,。.、．·（）()－—-]+', '', 'g'),
        '(幢|号楼|座)', '栋', 'g'),
        '#', '号', 'g')
$$;

CREATE TABLE buildings (
    id serial PRIMARY KEY,
    address text NOT NULL,
    -- the address in the one normal form that queries are put in too
    address_key text GENERATED ALWAYS AS (wangge_address_key(address)) STORED,
    road text NOT NULL,
    door_number integer NOT NULL CHECK (door_number > 0),
    estate text NOT NULL DEFAULT '',
    building_no integer,
    households integer NOT NULL DEFAULT 0 CHECK (households >= 0),
    residents integer NOT NULL DEFAULT 0 CHECK (residents >= 0),
    floors integer NOT NULL DEFAULT 1 CHECK (floors > 0),
    geom geometry(Polygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX buildings_geom_gist ON buildings USING gist (geom);
CREATE INDEX buildings_address_trgm ON buildings USING gin (address_key gin_trgm_ops);

CREATE TABLE team_types (
    code text PRIMARY KEY CHECK (code ~ '^[a-z_]+$'),
    name text NOT NULL,
    name_en text NOT NULL,
    -- true for the "4" of "4+X"
    core boolean NOT NULL DEFAULT false
);

CREATE TABLE teams (
    id serial PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    type text NOT NULL REFERENCES team_types (code),
    home_station text NOT NULL,
    area_code varchar(12) NOT NULL,
    status text NOT NULL DEFAULT 'free' CHECK (status IN ('free', 'busy', 'off_duty')),
    home geometry(Point, 4326) NOT NULL,
    position geometry(Point, 4326) NOT NULL,
    position_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX teams_position_gist ON teams USING gist (position);
CREATE INDEX teams_home_gist ON teams USING gist (home);
-- nearest-team queries order by true distance on the geography
CREATE INDEX teams_position_geog_gist ON teams USING gist ((position::geography));
CREATE INDEX teams_type_status ON teams (type, status);

CREATE TABLE catalogue (
    code text PRIMARY KEY CHECK (code ~ '^[0-9]{2}\.[0-9]{2}$'),
    major_code char(2) NOT NULL,
    major_name text NOT NULL,
    minor_name text NOT NULL,
    -- NULL: no body owns it and the territory's community takes it (属地兜底)
    team_type text REFERENCES team_types (code),
    time_limit_hours integer NOT NULL CHECK (time_limit_hours > 0),
    handling_steps text NOT NULL,
    closing_standard text NOT NULL,
    level text NOT NULL DEFAULT 'community' CHECK (level IN ('community', 'street', 'district')),
    duplicate_radius_m real NOT NULL DEFAULT 50 CHECK (duplicate_radius_m > 0),
    duplicate_window_hours integer NOT NULL DEFAULT 24 CHECK (duplicate_window_hours > 0),
    CHECK (left(code, 2) = major_code)
);

-- Cases -------------------------------------------------------------------
CREATE TABLE incidents (
    id bigserial PRIMARY KEY,
    -- kept on every row so case tables can be sharded by district later
    district_code char(6) NOT NULL REFERENCES districts (code),
    category_code text NOT NULL REFERENCES catalogue (code),
    channel text NOT NULL CHECK (channel IN ('hotline', 'police_110', 'grid_worker', 'wechat', 'camera', 'sensor')),
    description text NOT NULL DEFAULT '',
    address text,
    raw_x double precision NOT NULL,
    raw_y double precision NOT NULL,
    raw_crs text NOT NULL,
    geom geometry(Point, 4326) NOT NULL,
    grid_id integer REFERENCES grids (id),
    grid_code char(15),
    community_code char(12),
    street_code char(9),
    level text NOT NULL DEFAULT 'community' CHECK (level IN ('community', 'street', 'district')),
    status text NOT NULL DEFAULT 'accepted' CHECK (status IN (
        'accepted', 'dispatched', 'handling', 'feedback', 'verified', 'closed', 'rejected', 'duplicate')),
    team_id integer REFERENCES teams (id),
    duplicate_of bigint REFERENCES incidents (id),
    reported_at timestamptz NOT NULL DEFAULT now(),
    deadline timestamptz NOT NULL,
    closed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    idempotency_key text UNIQUE,
    CHECK (deadline > reported_at)
);
CREATE INDEX incidents_geom_gist ON incidents USING gist (geom);
CREATE INDEX incidents_open_geom_gist ON incidents USING gist (geom)
    WHERE status NOT IN ('closed', 'rejected', 'duplicate');
CREATE INDEX incidents_category_time ON incidents (category_code, reported_at);
CREATE INDEX incidents_grid ON incidents (grid_code, reported_at);
CREATE INDEX incidents_community_status ON incidents (community_code, status);
CREATE INDEX incidents_deadline_open ON incidents (deadline)
    WHERE status NOT IN ('closed', 'rejected', 'duplicate');
-- a team works one case at a time: the database refuses a second active one
CREATE UNIQUE INDEX incidents_one_active_case_per_team ON incidents (team_id)
    WHERE status IN ('dispatched', 'handling');

CREATE TABLE incident_events (
    id bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents (id),
    district_code char(6) NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    role text NOT NULL,
    action text NOT NULL,
    from_status text,
    to_status text,
    reason text NOT NULL DEFAULT '',
    details jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);

CREATE FUNCTION wangge_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'incident_events is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER incident_events_append_only BEFORE UPDATE OR DELETE ON incident_events
    FOR EACH ROW EXECUTE FUNCTION wangge_refuse_change();

-- Planning ----------------------------------------------------------------
CREATE TABLE planning_proposals (
    id bigserial PRIMARY KEY,
    community_code char(12) NOT NULL REFERENCES communities (code),
    based_on_version integer NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    published_at timestamptz,
    features jsonb NOT NULL,
    report jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX planning_proposals_community ON planning_proposals (community_code);

-- Layer versions ----------------------------------------------------------
-- A sequence per layer, advanced by a statement trigger on every change.
-- Sequences are lock-free and outside transactions, so writers never queue
-- on a counter row; a rolled-back change only costs readers one cache miss.
-- Readers (tile cache, ETags, 304s) compare last_value.
CREATE FUNCTION wangge_bump_layer_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval(TG_ARGV[0]::regclass);
    RETURN NULL;
END $$;

DO $$
DECLARE
    layer text;
BEGIN
    FOREACH layer IN ARRAY ARRAY['districts', 'streets', 'communities', 'grids', 'cameras',
        'waterlogging_points', 'stall_zones', 'buildings', 'teams', 'incidents']
    LOOP
        EXECUTE format('CREATE SEQUENCE %I', 'layer_version_' || layer);
        EXECUTE format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION wangge_bump_layer_version(%L)',
            layer || '_layer_version', layer, 'layer_version_' || layer);
    END LOOP;
END $$;

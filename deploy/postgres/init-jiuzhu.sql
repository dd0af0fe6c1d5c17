-- Creates the jiuzhu application role and database on the compose PostgreSQL server.
--
-- Mounted into /docker-entrypoint-initdb.d/, so the postgres image runs it once, when the
-- data volume is empty. The superuser of this server is the Temporal user (POSTGRES_USER);
-- Temporal's own databases (temporal, temporal_visibility) are created and migrated by the
-- temporal service itself. The application role is a separate, unprivileged owner of the
-- jiuzhu database only.
--
-- The password comes from the container's JIUZHU_DB_PASSWORD environment variable
-- (\getenv needs psql 15 or newer; the compose file uses postgres:16).

\set ON_ERROR_STOP on

\getenv jiuzhu_db_password JIUZHU_DB_PASSWORD
\if :{?jiuzhu_db_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'JIUZHU_DB_PASSWORD is not set in the postgres container environment'; END $$;
\endif

CREATE ROLE jiuzhu WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'jiuzhu_db_password';

CREATE DATABASE jiuzhu OWNER jiuzhu ENCODING 'UTF8';

-- Only the owner (and superusers) may connect to the application database.
REVOKE ALL ON DATABASE jiuzhu FROM PUBLIC;

\unset jiuzhu_db_password

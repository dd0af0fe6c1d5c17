#!/bin/sh
# Registers the custom search attributes that the jiuzhu workflows upsert.
#
# Idempotent: attributes that already exist with the same type are left alone, so the
# script can run on every start. It fails (non-zero exit) when the namespace never
# becomes available or when an attribute exists with a different type.
#
# Needs the `temporal` CLI (temporalio/admin-tools image). Settings:
#   TEMPORAL_ADDRESS     frontend host:port          (default temporal:7233)
#   TEMPORAL_NAMESPACE   namespace of the workflows  (default "default")
#   MAX_ATTEMPTS         retries while waiting       (default 60)
#   SLEEP_SECONDS        pause between retries       (default 5)
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
MAX_ATTEMPTS="${MAX_ATTEMPTS:-60}"
SLEEP_SECONDS="${SLEEP_SECONDS:-5}"

# name:type pairs; keep in sync with the search attributes the workflows upsert
ATTRIBUTES="CaseStage:Keyword CaseTownship:Keyword AssistanceType:Keyword DecisionDue:Datetime CaseOverdue:Bool"

echo "Waiting for namespace '${NAMESPACE}' on ${ADDRESS}..."
attempt=1
until temporal operator namespace describe --address "${ADDRESS}" --namespace "${NAMESPACE}" >/dev/null 2>&1; do
    if [ "${attempt}" -ge "${MAX_ATTEMPTS}" ]; then
        echo "Namespace '${NAMESPACE}' not available after ${MAX_ATTEMPTS} attempts" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep "${SLEEP_SECONDS}"
done

set --
for pair in ${ATTRIBUTES}; do
    set -- "$@" --name "${pair%%:*}" --type "${pair#*:}"
done

echo "Registering search attributes in '${NAMESPACE}': ${ATTRIBUTES}"
attempt=1
while :; do
    if output=$(temporal operator search-attribute create --address "${ADDRESS}" --namespace "${NAMESPACE}" "$@" 2>&1); then
        echo "${output}"
        break
    fi
    echo "${output}" >&2
    case "${output}" in
        *"different type"*)
            echo "A search attribute exists with another type; fix it by hand (it cannot be changed in place)." >&2
            exit 1
            ;;
        *"already exists"*)
            # Some visibility stores report existing attributes as an error; the check below decides.
            break
            ;;
    esac
    if [ "${attempt}" -ge "${MAX_ATTEMPTS}" ]; then
        echo "Could not register search attributes after ${MAX_ATTEMPTS} attempts" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep "${SLEEP_SECONDS}"
done

# Verify every attribute is now known to the namespace (the namespace cache may lag a little).
attempt=1
while :; do
    listing=$(temporal operator search-attribute list --address "${ADDRESS}" --namespace "${NAMESPACE}" 2>&1) || true
    missing=""
    for pair in ${ATTRIBUTES}; do
        name="${pair%%:*}"
        if ! printf '%s\n' "${listing}" | grep -qw -- "${name}"; then
            missing="${missing} ${name}"
        fi
    done
    [ -z "${missing}" ] && break
    if [ "${attempt}" -ge "${MAX_ATTEMPTS}" ]; then
        echo "Missing search attributes after registration:${missing}" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep "${SLEEP_SECONDS}"
done
echo "Search attributes present in '${NAMESPACE}':"
printf '%s\n' "${listing}" | grep -wE "$(echo "${ATTRIBUTES}" | sed -e 's/:[A-Za-z]*//g' -e 's/ /|/g')"

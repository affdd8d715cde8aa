#!/bin/sh
# Create every topic alphawatch uses, with its partition count and cleanup policy, before the first
# worker starts (compose service `kafka-init`, Kubernetes Job `alphawatch-topics`). Idempotent.
# Reads the workers' own settings, so topics and workers cannot disagree:
#   ALPHAWATCH_BROKER_URL, ALPHAWATCH_APP_ID, ALPHAWATCH_TOPIC_PREFIX, ALPHAWATCH_PARTITIONS,
#   ALPHAWATCH_REPLICATION_FACTOR; KAFKA_COMMAND_CONFIG optionally names a client properties file
#   (SASL/TLS) for kafka-topics.sh.
set -eu

BOOTSTRAP=$(printf '%s' "${ALPHAWATCH_BROKER_URL:-kafka://127.0.0.1:9092}" | sed -e 's#[a-z]*://##g' -e 's#;#,#g')
APP="${ALPHAWATCH_APP_ID:-alphawatch}"
PREFIX="${ALPHAWATCH_TOPIC_PREFIX:-}"
P="${ALPHAWATCH_PARTITIONS:-4}"
RF="${ALPHAWATCH_REPLICATION_FACTOR:-1}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"

topic() {  # name partitions [compact]
  config="--config min.insync.replicas=$(( RF > 2 ? 2 : 1 ))"
  if [ "${3:-}" = compact ]; then
    config="$config --config cleanup.policy=compact"
  fi
  # shellcheck disable=SC2086
  "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" ${KAFKA_COMMAND_CONFIG:+--command-config "$KAFKA_COMMAND_CONFIG"} \
    --create --if-not-exists --topic "$1" --partitions "$2" --replication-factor "$RF" $config
}

# public topics (stream/topics.py), keyed by unit, flag, dimension or annotator
topic "${PREFIX}annotations" "$P"
topic "${PREFIX}annotations-dlq" "$P"
topic "${PREFIX}agreement" "$P"
topic "${PREFIX}qa-flags" "$P"
topic "${PREFIX}annotator-status" "$P"
topic "${PREFIX}rlhf-batches" "$P"
topic "${PREFIX}rlhf-batch-manifests" "$P"
topic "${PREFIX}model-rankings" "$P" compact  # whole leaderboards: the newest per key is enough
topic "${PREFIX}pairing-suggestions" "$P"
topic "${PREFIX}gold-items" "$P" compact
# internal topics: re-keyed valid events, the merge stage's single partition, annotator events
topic "${PREFIX}${APP}-annotations-valid" "$P"
topic "${PREFIX}${APP}-agreement-partials" 1
topic "${PREFIX}${APP}-annotator-events" "$P"
topic "${PREFIX}${APP}-ranking-partials" 1
topic "${PREFIX}${APP}-batch-partials" 1
# Faust table changelogs (no topic prefix): compacted, partitioned like the stream feeding them
topic "${APP}-units-changelog" "$P" compact
topic "${APP}-closures-changelog" "$P" compact
topic "${APP}-merge-changelog" 1 compact
topic "${APP}-annotators-changelog" "$P" compact
topic "${APP}-ranking-changelog" "$P" compact
topic "${APP}-batchunits-changelog" "$P" compact
topic "${APP}-batchversions-changelog" "$P" compact
topic "${APP}-batchclosed-changelog" "$P" compact
topic "${APP}-manifests-changelog" 1 compact
echo "alphawatch topics ready on $BOOTSTRAP"

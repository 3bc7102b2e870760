#!/usr/bin/env bash
# Copies the Kafka message schemas this package generates codecs for out of a kafka-clients jar
# (default: the test services' Kafka) into schemas/, unchanged. Then run `npm run generate`.
# Usage: scripts/refresh-schemas.sh [path/to/kafka-clients-X.Y.Z.jar]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
jar="${1:-$(ls "$here"/../../.cache/services/kafka-*/libs/kafka-clients-*.jar 2>/dev/null | sort -V | tail -1)}"
[ -f "$jar" ] || { echo "kafka-clients jar not found: ${jar:-none} (pass its path)" >&2; exit 1; }

apis=(ApiVersions Metadata Produce Fetch ListOffsets FindCoordinator JoinGroup SyncGroup Heartbeat
  LeaveGroup OffsetCommit OffsetFetch InitProducerId OffsetForLeaderEpoch DescribeCluster CreateTopics
  DescribeConfigs ListGroups DescribeGroups SaslHandshake SaslAuthenticate)
files=(common/message/RequestHeader.json common/message/ResponseHeader.json)
for api in "${apis[@]}"; do
  files+=("common/message/${api}Request.json" "common/message/${api}Response.json")
done
unzip -o -j -q "$jar" "${files[@]}" -d "$here/schemas"
echo "copied ${#files[@]} schemas from $jar; update the version in schemas/NOTICE if it changed"

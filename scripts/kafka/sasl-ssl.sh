# Sourced by scripts/services.sh: the test Kafka's SASL_SSL listener.
#
# The listener (127.0.0.1:$BARGE_KAFKA_SASL_PORT, default 9094) takes TLS with a server
# certificate for 127.0.0.1/localhost signed by a test CA, then SASL with SCRAM-SHA-512,
# SCRAM-SHA-256 or PLAIN for user "barge". Everything lives in $CACHE/kafka-sasl:
#   ca.pem        test CA certificate (clients trust it: BARGE_TEST_KAFKA_SASL_CA)
#   ca.key        test CA key
#   server.p12    server key + certificate chain (PKCS12, password $KAFKA_SASL_STORE_PASS)
#   password      the test user's password (random, made once per cache)
# The listener's settings are scripts/kafka/sasl-ssl.properties. The SCRAM credentials are
# written into the metadata log when the data dir is formatted (`kafka-storage format
# --add-scram`, KIP-900, Kafka 3.5+); PLAIN users are listed in the listener's JAAS config.

KAFKA_SASL_PORT="${BARGE_KAFKA_SASL_PORT:-9094}"
KAFKA_SASL_DIR="$CACHE/kafka-sasl"
KAFKA_SASL_USER=barge
# Protects only the throw-away test keystore; the key itself never leaves the cache.
KAFKA_SASL_STORE_PASS=barge-test-keystore

kafka_sasl_password() { cat "$KAFKA_SASL_DIR/password"; }

# Creates the CA, the server certificate and the password when missing or expiring within a day.
kafka_sasl_prepare() {
  local d=$KAFKA_SASL_DIR
  if [[ -s $d/password && -f $d/ca.pem && -f $d/server.p12 ]] &&
    openssl x509 -checkend 86400 -noout -in "$d/server.crt" >/dev/null 2>&1; then
    return 0
  fi
  command -v openssl >/dev/null || die "kafka: openssl not found (needed for the SASL_SSL test certificates)"
  local t="$d.tmp"
  rm -rf "$t"
  mkdir -p "$t"
  (
    cd "$t"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Barge test CA" \
      -keyout ca.key -out ca.pem \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth" \
      "basicConstraints=CA:FALSE" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
      -extfile server.ext -out server.crt
    openssl pkcs12 -export -name kafka -inkey server.key -in server.crt -certfile ca.pem \
      -passout "pass:$KAFKA_SASL_STORE_PASS" -out server.p12
    rm -f server.csr server.ext ca.srl server.key
    openssl rand -hex 16 >password
    chmod 600 ca.key password server.p12
  ) >/dev/null 2>&1 || die "kafka: could not create the SASL_SSL test certificates in $t"
  rm -rf "$d"
  mv "$t" "$d"
}

# Adds the listener to a server.properties made from scripts/kafka/server.properties (which
# stays PLAINTEXT-only, as test/src/private-kafka.ts uses it too).
kafka_sasl_add_listener() { # server.properties
  local f=$1 url="SASL_SSL://127.0.0.1:$KAFKA_SASL_PORT"
  sed -i -e "/^listeners=/s#\$#,$url#" -e "/^advertised\.listeners=/s#\$#,$url#" \
    -e "/^listener\.security\.protocol\.map=/s#\$#,SASL_SSL:SASL_SSL#" "$f"
  [[ $(grep -c -F "$url" "$f") == 2 ]] || die "kafka: could not add the SASL_SSL listener to $f"
  sed -e "s#@KAFKA_SASL_KEYSTORE@#$KAFKA_SASL_DIR/server.p12#g" \
    -e "s#@KAFKA_SASL_STORE_PASS@#$KAFKA_SASL_STORE_PASS#g" \
    -e "s#@KAFKA_SASL_USER@#$KAFKA_SASL_USER#g" \
    -e "s#@KAFKA_SASL_PASSWORD@#$(kafka_sasl_password)#g" \
    "$ROOT/scripts/kafka/sasl-ssl.properties" >>"$f"
}

# `kafka-storage format` arguments that store the SCRAM credentials of the test user.
kafka_sasl_format_args() {
  local pw m
  pw=$(kafka_sasl_password)
  for m in SCRAM-SHA-512 SCRAM-SHA-256; do
    printf '%s\n' --add-scram "$m=[name=$KAFKA_SASL_USER,password=$pw]"
  done
}

# The probes (scripts/wait-kafka.mjs and KafkaProbe.java) read these to go over SASL_SSL.
kafka_sasl_probe() { # seconds
  KAFKA_PROBE_SASL_CA="$KAFKA_SASL_DIR/ca.pem" KAFKA_PROBE_SASL_USER="$KAFKA_SASL_USER" \
    KAFKA_PROBE_SASL_PASSWORD="$(kafka_sasl_password)" \
    kafka_probe_brokers "127.0.0.1:$KAFKA_SASL_PORT" "$1"
}

# services.env lines; none when the listener's material was never made.
kafka_sasl_env() {
  [[ -s $KAFKA_SASL_DIR/password ]] || return 0
  printf '%s\n' "BARGE_TEST_KAFKA_SASL_BROKERS=127.0.0.1:$KAFKA_SASL_PORT" \
    "BARGE_TEST_KAFKA_SASL_CA='$KAFKA_SASL_DIR/ca.pem'" \
    "BARGE_TEST_KAFKA_SASL_USERNAME=$KAFKA_SASL_USER" \
    "BARGE_TEST_KAFKA_SASL_PASSWORD=$(kafka_sasl_password)"
}

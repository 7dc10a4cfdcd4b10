# Throwaway TLS material for tests: a CA of the test's own and a server
# certificate it signed.
# test_ca DIR SAN...: DIR/ca.pem, DIR/srv.pem, DIR/srv.key; SAN entries as
# openssl writes them (IP:172.17.0.1, DNS:api.test).
test_ca() {
  local dir=$1; shift
  local san
  san=$(IFS=,; echo "$*")
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/ca.key" \
    -out "$dir/ca.pem" -days 2 -subj "/CN=adr test CA $RANDOM" 2>/dev/null &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/srv.key" \
    -out "$dir/srv.csr" -subj "/CN=adr test server" 2>/dev/null &&
  printf 'subjectAltName=%s\n' "$san" >"$dir/ext" &&
  openssl x509 -req -in "$dir/srv.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -out "$dir/srv.pem" -days 2 -extfile "$dir/ext" 2>/dev/null
}

/* TLS 1.3 through OpenSSL (certificates or an external PSK) and the byte
 * stream abstraction the server and client read and write through.
 *
 * A client authenticates the server in exactly one way, the one it was
 * given, and refuses any other: a PSK client fails on any certificate (an
 * untrusted server would otherwise answer a PSK offer with one and be
 * taken), a certificate client checks the chain against its CA file
 * and/or the pinned key, and a client with none of these is refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net_impl.h"

#define PSK_MIN 16
#define PSK_MAX 64
#define PIN_MAX 8 /* pins in one pin_sha256 list (key rotation) */

struct jalad_tls {
	SSL_CTX *ctx;
	int server;
	int psk;
	uint8_t key[PSK_MAX];
	size_t key_len;
	char identity[128];
	int has_ca;                /* a CA file: chains are verified */
	int n_pins;
	uint8_t pins[PIN_MAX][32]; /* SHA-256 of a public key or certificate */
};

struct jalad_tls_conn {
	SSL *ssl;
	int client;
	int got_data;  /* application data has come from the peer */
	int cert_asked; /* client: the server asked for a certificate this edge lacks */
	char why[192]; /* client: why the server's authentication was refused */
};

/* What an OpenSSL reason most likely means for a jalad deployment: the
 * alerts a peer sends when the two sides were set up for different modes
 * or different credentials. */
static const char *ssl_hint(unsigned long e)
{
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return NULL;
	switch (ERR_GET_REASON(e)) {
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
		return "no common way to authenticate: a PSK on one side and certificates on the other, or "
		       "another PSK identity";
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		return "the server requires a client certificate: mutual TLS";
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
		return "the peer does not trust this side's certificate";
	case SSL_R_BAD_PSK:
	case SSL_R_BINDER_DOES_NOT_VERIFY:
	case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
	case SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER:
		return "the pre-shared keys differ";
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_RECORD_LENGTH_MISMATCH:
		return "the peer does not speak TLS";
	default:
		return NULL;
	}
}

/* The newest OpenSSL error as text (the queue is per thread), with what it
 * likely means when that is known. */
static const char *ssl_err(char *buf, size_t cap)
{
	unsigned long e = ERR_get_error(), next;
	while ((next = ERR_get_error()) != 0)
		e = next;
	if (!e) {
		snprintf(buf, cap, "%s", errno ? strerror(errno) : "unknown TLS error");
	} else {
		const char *hint = ssl_hint(e), *reason = ERR_reason_error_string(e);
		if (reason)
			snprintf(buf, cap, "%s", reason);
		else
			ERR_error_string_n(e, buf, cap);
		size_t n = strlen(buf);
		if (hint && n < cap)
			snprintf(buf + n, cap - n, " (%s)", hint);
	}
	return buf;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "IDENTITY:HEX" or "HEX" on the first line of path. */
static enum jalad_status load_psk(struct jalad_tls *t, const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");
	JALAD_RETURN_IF(!f, JALAD_ERR_IO, "tls: cannot open PSK file '%s': %s", path, strerror(errno));
	char *ok = fgets(line, sizeof line, f);
	fclose(f);
	JALAD_RETURN_IF(!ok, JALAD_ERR_FORMAT, "tls: PSK file '%s' is empty", path);
	line[strcspn(line, "\r\n")] = 0;
	char *hex = line, *colon = strrchr(line, ':');
	snprintf(t->identity, sizeof t->identity, "jalad");
	if (colon) {
		*colon = 0;
		JALAD_RETURN_IF(!*line || strlen(line) >= sizeof t->identity, JALAD_ERR_FORMAT,
				"tls: PSK file '%s': bad identity", path);
		snprintf(t->identity, sizeof t->identity, "%s", line);
		hex = colon + 1;
	}
	size_t n = strlen(hex);
	JALAD_RETURN_IF(n % 2 || n / 2 < PSK_MIN || n / 2 > PSK_MAX, JALAD_ERR_FORMAT,
			"tls: PSK file '%s': the key must be %d..%d bytes of hex, got %zu characters", path,
			PSK_MIN, PSK_MAX, n);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		JALAD_RETURN_IF(hi < 0 || lo < 0, JALAD_ERR_FORMAT, "tls: PSK file '%s': not hex", path);
		t->key[i] = (uint8_t)(hi << 4 | lo);
	}
	t->key_len = n / 2;
	t->psk = 1;
	return JALAD_OK;
}

/* "HEX[,HEX...]": 64 hex digits each, ':' between bytes allowed (as
 * `openssl x509 -fingerprint -sha256` prints them). */
static enum jalad_status parse_pins(struct jalad_tls *t, const char *list)
{
	const char *p = list;
	for (;;) {
		JALAD_RETURN_IF(t->n_pins == PIN_MAX, JALAD_ERR_INVALID_ARG, "tls: more than %d pins", PIN_MAX);
		uint8_t *pin = t->pins[t->n_pins];
		size_t n = 0;
		for (; *p && *p != ','; p++) {
			if (*p == ':' || *p == ' ')
				continue;
			int v = hexval(*p);
			JALAD_RETURN_IF(v < 0 || n == 64, JALAD_ERR_INVALID_ARG,
					"tls: pin '%s': want the SHA-256 as 64 hex digits", list);
			pin[n / 2] = (uint8_t)(n % 2 ? pin[n / 2] | v : v << 4);
			n++;
		}
		JALAD_RETURN_IF(n != 64, JALAD_ERR_INVALID_ARG,
				"tls: pin '%s': want the SHA-256 as 64 hex digits, got %zu", list, n);
		t->n_pins++;
		if (!*p)
			return JALAD_OK;
		p++;
	}
}

/* An external PSK is handed to OpenSSL as a session with TLS 1.3 and the
 * SHA-256 cipher suite. */
static SSL_SESSION *psk_session(SSL *ssl, const struct jalad_tls *t)
{
	static const unsigned char aes128gcm_sha256[2] = { 0x13, 0x01 };
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, aes128gcm_sha256);
	SSL_SESSION *s = cipher ? SSL_SESSION_new() : NULL;
	if (!s)
		return NULL;
	if (!SSL_SESSION_set1_master_key(s, t->key, t->key_len) || !SSL_SESSION_set_cipher(s, cipher) ||
	    !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
		SSL_SESSION_free(s);
		return NULL;
	}
	return s;
}

static int psk_use_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen, SSL_SESSION **sess)
{
	const struct jalad_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	*sess = NULL;
	if (md && md != EVP_sha256())
		return 1;
	*sess = psk_session(ssl, t);
	*id = (const unsigned char *)t->identity;
	*idlen = strlen(t->identity);
	return *sess ? 1 : 0;
}

static int psk_find_cb(SSL *ssl, const unsigned char *id, size_t idlen, SSL_SESSION **sess)
{
	const struct jalad_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	*sess = NULL;
	if (idlen != strlen(t->identity) || memcmp(id, t->identity, idlen) != 0)
		return 1; /* unknown identity: no PSK, and without a certificate the handshake fails */
	*sess = psk_session(ssl, t);
	return *sess ? 1 : 0;
}

/* OpenSSL calls this when the server asks a client that has no
 * certificate for one (mutual TLS): noted, so that a close right after the
 * handshake is explained even when the server's alert is lost; the
 * handshake goes on without a certificate, for the server to refuse. */
static int client_cert_cb(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
	(void)x509;
	(void)pkey;
	struct jalad_tls_conn *c = SSL_get_app_data(ssl);
	if (c)
		c->cert_asked = 1;
	return 0;
}

/* The client's check of the server's certificate, in place of OpenSSL's
 * own call of X509_verify_cert(): a PSK client takes none, a CA is checked
 * as usual (chain and name), a pin must match the leaf's public key or the
 * leaf itself. The TLS 1.3 CertificateVerify has already proved the server
 * holds the leaf's private key. On refusal the reason goes to the
 * connection, for jalad_tls_handshake() to report. */
static int client_verify_cb(X509_STORE_CTX *xs, void *arg)
{
	const struct jalad_tls *t = arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct jalad_tls_conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	char why[sizeof c->why] = "";
	int err = X509_V_ERR_APPLICATION_VERIFICATION; /* the alert: handshake failure */
	if (t->psk) {
		snprintf(why, sizeof why,
			 "the server authenticated with a certificate instead of the pre-shared key; this edge "
			 "accepts only the PSK");
	} else if (!t->has_ca && !t->n_pins) {
		snprintf(why, sizeof why, "no CA file or pin to verify the server's certificate with");
	} else if (t->has_ca && X509_verify_cert(xs) != 1) {
		char subj[96] = "?";
		X509 *bad = X509_STORE_CTX_get_current_cert(xs);
		if (bad || leaf)
			X509_NAME_oneline(X509_get_subject_name(bad ? bad : leaf), subj, sizeof subj);
		snprintf(why, sizeof why, "the server's certificate is not trusted: %s (%s)",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)), subj);
	} else if (t->n_pins) {
		uint8_t spki[32], whole[32];
		unsigned int n = 0;
		unsigned char *der = NULL;
		int len = leaf ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(leaf), &der) : -1;
		int ok = len > 0 && EVP_Digest(der, (size_t)len, spki, NULL, EVP_sha256(), NULL) == 1 &&
			 X509_digest(leaf, EVP_sha256(), whole, &n) == 1 && n == 32;
		OPENSSL_free(der);
		int match = 0;
		for (int i = 0; ok && i < t->n_pins; i++)
			match |= !CRYPTO_memcmp(t->pins[i], spki, 32) || !CRYPTO_memcmp(t->pins[i], whole, 32);
		if (!match) {
			char hex[65] = "?";
			for (int i = 0; ok && i < 32; i++)
				snprintf(hex + 2 * i, 3, "%02x", spki[i]);
			snprintf(why, sizeof why, "the server's public key matches no pin (its SHA-256 is %s)", hex);
			err = X509_V_ERR_CERT_REJECTED; /* the alert: bad certificate */
		}
	}
	if (!*why)
		return 1;
	if (X509_STORE_CTX_get_error(xs) == X509_V_OK)
		X509_STORE_CTX_set_error(xs, err);
	if (c)
		snprintf(c->why, sizeof c->why, "%s", why);
	return 0;
}

enum jalad_status jalad_tls_create(const struct jalad_tls_opts *o, int server, struct jalad_tls **out)
{
	char eb[256];
	enum jalad_status st;
	struct jalad_tls *t = calloc(1, sizeof *t);
	*out = NULL;
	JALAD_RETURN_IF(!t, JALAD_ERR_NOMEM, "tls: out of memory");
	t->server = server;
	/* One mode, never two: a PSK side that also had certificates would
	 * let the peer pick the weaker or the unintended one. */
	if (o->psk_file && (o->cert_file || o->key_file || o->ca_file || o->pin_sha256)) {
		st = jalad_fail(JALAD_ERR_INVALID_ARG,
				"tls: a PSK excludes certificates, CA files and pins: choose one mode");
		goto fail;
	}
	if (server && o->pin_sha256) {
		st = jalad_fail(JALAD_ERR_INVALID_ARG, "tls: pins are for clients (a server verifies edges with a CA)");
		goto fail;
	}
	if (!server && o->server_name && !o->ca_file && !o->psk_file) {
		st = jalad_fail(JALAD_ERR_INVALID_ARG,
				"tls: a server name is checked against a CA-verified certificate: give a CA file with it "
				"(a pin alone checks no name)");
		goto fail;
	}
	if (o->psk_file && (st = load_psk(t, o->psk_file)) != JALAD_OK)
		goto fail;
	if (o->pin_sha256 && (st = parse_pins(t, o->pin_sha256)) != JALAD_OK)
		goto fail;
	t->has_ca = o->ca_file != NULL;
	if (!t->psk && server && (!o->cert_file || !o->key_file)) {
		st = jalad_fail(JALAD_ERR_INVALID_ARG, "tls: a server needs a certificate and key, or a PSK file");
		goto fail;
	}
	if (!t->psk && !server && !o->ca_file && !t->n_pins) {
		st = jalad_fail(JALAD_ERR_INVALID_ARG,
				"tls: a client needs a CA file or a pin to verify the server, or a PSK file");
		goto fail;
	}
	ERR_clear_error();
	t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!t->ctx) {
		st = jalad_fail(JALAD_ERR_NOMEM, "tls: SSL_CTX_new: %s", ssl_err(eb, sizeof eb));
		goto fail;
	}
	SSL_CTX_set_app_data(t->ctx, t);
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_3_VERSION);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
	if (server)
		SSL_CTX_set_num_tickets(t->ctx, 0);
	if (t->psk) {
		/* The key is bound to SHA-256: a suite with another hash would
		 * make the server ignore the PSK and ask for a certificate. */
		SSL_CTX_set_ciphersuites(t->ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256");
		if (server)
			SSL_CTX_set_psk_find_session_callback(t->ctx, psk_find_cb);
		else
			SSL_CTX_set_psk_use_session_callback(t->ctx, psk_use_cb);
	}
	if (o->cert_file || o->key_file) {
		if (!o->cert_file || !o->key_file) {
			st = jalad_fail(JALAD_ERR_INVALID_ARG, "tls: give both a certificate and its key");
			goto fail;
		}
		if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert_file) != 1) {
			st = jalad_fail(JALAD_ERR_IO, "tls: certificate '%s': %s", o->cert_file, ssl_err(eb, sizeof eb));
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(t->ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(t->ctx) != 1) {
			st = jalad_fail(JALAD_ERR_IO, "tls: key '%s': %s", o->key_file, ssl_err(eb, sizeof eb));
			goto fail;
		}
	}
	if (o->ca_file) {
		if (SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL) != 1) {
			st = jalad_fail(JALAD_ERR_IO, "tls: CA file '%s': %s", o->ca_file, ssl_err(eb, sizeof eb));
			goto fail;
		}
		/* A server with a CA file requires client certificates (mutual TLS). */
		if (server)
			SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	if (!server) {
		/* Every client mode verifies, the PSK one by refusing any certificate. */
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_cert_verify_callback(t->ctx, client_verify_cb, t);
		SSL_CTX_set_client_cert_cb(t->ctx, client_cert_cb);
	}
	*out = t;
	return JALAD_OK;
fail:
	jalad_tls_free(t);
	return st;
}

void jalad_tls_free(struct jalad_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	OPENSSL_cleanse(t->key, sizeof t->key);
	free(t);
}

/* A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own writes with
 * write(2), and a peer that vanished would raise SIGPIPE in the process. */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_write(BIO *b, const char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t r = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)r;
}

static int nosig_read(BIO *b, char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t r = recv(fd, buf, (size_t)len, 0);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)r;
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b, (void)num, (void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int nosig_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void nosig_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "jalad socket");
	if (m && BIO_meth_set_write(m, nosig_write) && BIO_meth_set_read(m, nosig_read) &&
	    BIO_meth_set_ctrl(m, nosig_ctrl) && BIO_meth_set_create(m, nosig_create))
		nosig_method = m;
	else
		BIO_meth_free(m);
}

enum jalad_status jalad_tls_conn_create(struct jalad_tls *t, int fd, const char *server_name,
					struct jalad_tls_conn **out)
{
	char eb[256];
	struct jalad_tls_conn *c = calloc(1, sizeof *c);
	*out = NULL;
	JALAD_RETURN_IF(!c, JALAD_ERR_NOMEM, "tls: out of memory");
	ERR_clear_error();
	pthread_once(&nosig_once, nosig_init);
	c->ssl = SSL_new(t->ctx);
	BIO *bio = c->ssl && nosig_method ? BIO_new(nosig_method) : NULL;
	if (!bio) {
		jalad_tls_conn_free(c);
		return jalad_fail(JALAD_ERR_NOMEM, "tls: SSL_new: %s", ssl_err(eb, sizeof eb));
	}
	BIO_set_data(bio, (void *)(intptr_t)fd);
	SSL_set_bio(c->ssl, bio, bio);
	SSL_set_app_data(c->ssl, c);
	c->client = !t->server;
	if (t->server) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		if (server_name && *server_name && t->has_ca) {
			unsigned char ip[16];
			X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
			if (inet_pton(AF_INET, server_name, ip) == 1 || inet_pton(AF_INET6, server_name, ip) == 1) {
				X509_VERIFY_PARAM_set1_ip_asc(vp, server_name);
			} else {
				SSL_set_tlsext_host_name(c->ssl, server_name);
				SSL_set1_host(c->ssl, server_name);
			}
		}
	}
	*out = c;
	return JALAD_OK;
}

void jalad_tls_conn_free(struct jalad_tls_conn *c)
{
	if (!c)
		return;
	SSL_free(c->ssl);
	free(c);
}

/* Translate an SSL_* result into JALAD_IO_* (or a count > 0). */
static long ssl_result(SSL *ssl, int rc, const char *what)
{
	char eb[256];
	if (rc > 0)
		return rc;
	int e = SSL_get_error(ssl, rc);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return JALAD_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return JALAD_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return JALAD_IO_EOF;
	case SSL_ERROR_SYSCALL:
		if (errno == EINTR)
			return JALAD_IO_WANT_READ;
		if (!errno || errno == ECONNRESET || errno == EPIPE) {
			jalad_fail(JALAD_ERR_CLOSED, "tls %s: the peer closed the connection", what);
			return JALAD_IO_EOF;
		}
		jalad_fail(JALAD_ERR_IO, "tls %s: %s", what, strerror(errno));
		return JALAD_IO_ERROR;
	default:
		jalad_fail(JALAD_ERR_IO, "tls %s: %s", what, ssl_err(eb, sizeof eb));
		return JALAD_IO_ERROR;
	}
}

/* After a handshake OpenSSL calls complete: did the server authenticate
 * the way this client demands? (Belt and braces: the verify callback has
 * already refused a certificate to a PSK client, and a certificate client
 * offers no PSK.) */
static const char *client_auth_missing(SSL *ssl, const struct jalad_tls *t)
{
	if (t->psk)
		return SSL_session_reused(ssl) ? NULL : "the server did not use the pre-shared key";
	X509 *peer = SSL_get1_peer_certificate(ssl);
	long vr = SSL_get_verify_result(ssl);
	X509_free(peer);
	return peer && vr == X509_V_OK ? NULL : "the server presented no verified certificate";
}

int jalad_tls_handshake(struct jalad_tls_conn *c)
{
	ERR_clear_error();
	errno = 0;
	int rc = SSL_do_handshake(c->ssl);
	const struct jalad_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(c->ssl));
	if (rc == 1) {
		const char *miss = t->server ? NULL : client_auth_missing(c->ssl, t);
		if (!miss)
			return 0;
		jalad_fail(JALAD_ERR_IO, "tls handshake: %s", miss);
		return JALAD_IO_ERROR;
	}
	if (c->why[0]) {
		ERR_clear_error();
		jalad_fail(JALAD_ERR_IO, "tls handshake: %s", c->why);
		return JALAD_IO_ERROR;
	}
	long vr = SSL_get_verify_result(c->ssl);
	if (t->server && vr != X509_V_OK && SSL_get_error(c->ssl, rc) == SSL_ERROR_SSL) {
		ERR_clear_error();
		jalad_fail(JALAD_ERR_IO, "tls handshake: the edge's certificate is not trusted: %s",
			   X509_verify_cert_error_string(vr));
		return JALAD_IO_ERROR;
	}
	long r = ssl_result(c->ssl, rc, "handshake");
	if (r == JALAD_IO_EOF) {
		jalad_fail(JALAD_ERR_CLOSED, "tls handshake: the peer closed the connection");
		return JALAD_IO_ERROR;
	}
	return (int)r;
}

void jalad_tls_close_notify(struct jalad_tls_conn *c)
{
	ERR_clear_error();
	if (SSL_is_init_finished(c->ssl))
		(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
}

/* A client's connection ended before the server said anything. In TLS 1.3
 * the client's handshake is over before the server has checked the
 * client's certificate, so this is how a mutual-TLS server refuses one: an
 * alert, then close (and the edge's HELLO, unread there, turns the close
 * into a reset that may beat the alert to the edge's read or write). The
 * alert is still in the socket's receive queue: read it to say why. */
static long closed_early(struct jalad_tls_conn *c, const char *what)
{
	char eb[256], one;
	ERR_clear_error();
	errno = 0;
	int rc = SSL_read(c->ssl, &one, 1);
	unsigned long e = rc <= 0 && SSL_get_error(c->ssl, rc) == SSL_ERROR_SSL ? ERR_peek_last_error() : 0;
	if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET) {
		jalad_fail(JALAD_ERR_IO, "tls %s: the server refused the connection: %s", what, ssl_err(eb, sizeof eb));
	} else {
		ERR_clear_error();
		const char *hint = c->cert_asked ? " (it requires a client certificate, mutual TLS, and this edge has none)"
				   : SSL_get_certificate(c->ssl)
					   ? " (as a server requiring client certificates does when it refuses this edge's)"
					   : "";
		jalad_fail(JALAD_ERR_IO, "tls %s: the server closed the connection right after the handshake%s", what,
			   hint);
	}
	return JALAD_IO_ERROR;
}

long jalad_stream_read(struct jalad_stream *s, void *buf, size_t n)
{
	if (n > INT_MAX)
		n = INT_MAX;
	if (s->tls) {
		ERR_clear_error();
		errno = 0;
		long r = ssl_result(s->tls->ssl, SSL_read(s->tls->ssl, buf, (int)n), "read");
		if (r > 0)
			s->tls->got_data = 1;
		else if (r == JALAD_IO_EOF && s->tls->client && !s->tls->got_data)
			r = closed_early(s->tls, "read");
		return r;
	}
	for (;;) {
		ssize_t r = read(s->fd, buf, n);
		if (r > 0)
			return (long)r;
		if (r == 0)
			return JALAD_IO_EOF;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return JALAD_IO_WANT_READ;
		if (errno == ECONNRESET) {
			jalad_fail(JALAD_ERR_CLOSED, "read: connection reset by peer");
			return JALAD_IO_EOF;
		}
		jalad_fail(JALAD_ERR_IO, "read: %s", strerror(errno));
		return JALAD_IO_ERROR;
	}
}

long jalad_stream_write(struct jalad_stream *s, const void *buf, size_t n)
{
	if (n > INT_MAX)
		n = INT_MAX;
	if (s->tls) {
		ERR_clear_error();
		errno = 0;
		long r = ssl_result(s->tls->ssl, SSL_write(s->tls->ssl, buf, (int)n), "write");
		if (r == JALAD_IO_EOF && s->tls->client && !s->tls->got_data)
			r = closed_early(s->tls, "write");
		return r;
	}
	for (;;) {
		ssize_t r = send(s->fd, buf, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r > 0 ? (long)r : JALAD_IO_WANT_WRITE;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return JALAD_IO_WANT_WRITE;
		if (errno == ECONNRESET || errno == EPIPE) {
			jalad_fail(JALAD_ERR_CLOSED, "write: the peer closed the connection");
			return JALAD_IO_EOF;
		}
		jalad_fail(JALAD_ERR_IO, "write: %s", strerror(errno));
		return JALAD_IO_ERROR;
	}
}

int jalad_stream_pending(const struct jalad_stream *s)
{
	return s->tls ? SSL_pending(s->tls->ssl) > 0 : 0;
}

#include "exporter/tls_server.hpp"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <tuple>

#include "exporter/options.hpp"

namespace pgscope {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
void free_chain(STACK_OF(X509) * chain) { sk_X509_pop_free(chain, X509_free); }
void free_names(STACK_OF(X509_NAME) * names) { sk_X509_NAME_pop_free(names, X509_NAME_free); }
using ChainPtr = std::unique_ptr<STACK_OF(X509), Deleter<STACK_OF(X509), free_chain>>;
using NamesPtr = std::unique_ptr<STACK_OF(X509_NAME), Deleter<STACK_OF(X509_NAME), free_names>>;

// OpenSSL's reason for the last failure, and an empty error queue.
std::string openssl_error() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    out = text;  // the first one queued is usually the least telling
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// What a file or inline PEM is called in messages.
std::string source_name(const std::string& key, const std::string& file) {
  return file.empty() ? key + " (inline)" : key + " " + file;
}

BioPtr open_pem(const std::string& file, const std::string& pem, std::string& why) {
  BioPtr bio(file.empty() ? BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))
                          : BIO_new_file(file.c_str(), "r"));
  if (!bio) {
    const int error = errno;
    why = file.empty() ? openssl_error() : std::string(std::strerror(error));
    ERR_clear_error();
  }
  return bio;
}

std::vector<X509Ptr> read_certificates(const std::string& file, const std::string& pem, std::string& why) {
  std::vector<X509Ptr> certs;
  BioPtr bio = open_pem(file, pem, why);
  if (!bio) return certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(cert);
  // The loop ends at the end of the data (PEM "no start line") or at a
  // broken block, which must not pass for the end.
  const unsigned long last = ERR_peek_last_error();
  if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE && !certs.empty()) {
    ERR_clear_error();
  } else if (last != 0 || certs.empty()) {
    why = certs.empty() ? "no PEM certificate in it" : "a broken PEM block: " + openssl_error();
    ERR_clear_error();
    certs.clear();
  }
  return certs;
}

struct Credentials {
  X509Ptr cert;
  ChainPtr chain;
  KeyPtr key;
  std::string description;  // subject, serial, expiry
};

struct ClientCa {
  StorePtr store;
  NamesPtr names;  // sent to clients as the acceptable issuers
};

std::string describe_certificate(X509* cert) {
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  std::string serial = "?";
  if (BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(number)) {
      serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(number);
  }
  std::string expires = "?";
  if (BioPtr bio{BIO_new(BIO_s_mem())}) {
    if (ASN1_TIME_print(bio.get(), X509_get0_notAfter(cert)) == 1) {
      char* data = nullptr;
      const long length = BIO_get_mem_data(bio.get(), &data);
      expires.assign(data, static_cast<std::size_t>(length));
    }
  }
  return std::string(subject) + ", serial " + serial + ", expires " + expires;
}

std::shared_ptr<Credentials> load_pair(const TlsServerConfig& config, std::string& why) {
  const std::string cert_name = source_name("cert_file", config.cert_file);
  const std::string key_name = source_name("key_file", config.key_file);
  auto certs = read_certificates(config.cert_file, config.cert_pem, why);
  if (certs.empty()) {
    why = cert_name + ": " + why;
    return nullptr;
  }
  auto credentials = std::make_shared<Credentials>();
  credentials->cert = std::move(certs.front());
  credentials->chain.reset(sk_X509_new_null());
  for (std::size_t i = 1; i < certs.size(); ++i) sk_X509_push(credentials->chain.get(), certs[i].release());
  BioPtr bio = open_pem(config.key_file, config.key_pem, why);
  if (!bio) {
    why = key_name + ": " + why;
    return nullptr;
  }
  credentials->key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!credentials->key) {
    why = key_name + ": no PEM private key in it (" + openssl_error() + ")";
    return nullptr;
  }
  if (X509_check_private_key(credentials->cert.get(), credentials->key.get()) != 1) {
    ERR_clear_error();
    why = key_name + " is not the key of the certificate in " + cert_name + " (give the matching pair)";
    return nullptr;
  }
  credentials->description = describe_certificate(credentials->cert.get());
  if (X509_cmp_current_time(X509_get0_notAfter(credentials->cert.get())) < 0) {
    spdlog::warn("TLS: the certificate in {} has expired ({})", cert_name, credentials->description);
  }
  return credentials;
}

std::shared_ptr<ClientCa> load_client_ca(const TlsServerConfig& config, std::string& why) {
  auto certs = read_certificates(config.client_ca_file, config.client_ca_pem, why);
  if (certs.empty()) {
    why = source_name("client_ca_file", config.client_ca_file) + ": " + why;
    return nullptr;
  }
  auto ca = std::make_shared<ClientCa>();
  ca->store.reset(X509_STORE_new());
  ca->names.reset(sk_X509_NAME_new_null());
  for (const auto& cert : certs) {
    X509_STORE_add_cert(ca->store.get(), cert.get());
    sk_X509_NAME_push(ca->names.get(), X509_NAME_dup(X509_get_subject_name(cert.get())));
  }
  ERR_clear_error();
  return ca;
}

// What stat() says of the files; a change of any of it means "load again".
using Stamp = std::vector<std::tuple<int, dev_t, ino_t, off_t, long, long>>;
Stamp stamp(const std::vector<std::string>& files) {
  Stamp out;
  for (const auto& file : files) {
    struct stat st {};
    if (file.empty()) {
      out.emplace_back(0, 0, 0, 0, 0, 0);
    } else if (::stat(file.c_str(), &st) != 0) {
      out.emplace_back(errno, 0, 0, 0, 0, 0);
    } else {
      out.emplace_back(0, st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
  }
  return out;
}

bool has_allowed_san(X509* cert, const std::vector<std::string>& allowed) {
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return false;
  bool found = false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    std::string value;
    if (name->type == GEN_DNS || name->type == GEN_EMAIL || name->type == GEN_URI) {
      const ASN1_STRING* text = name->d.ia5;
      value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                   static_cast<std::size_t>(ASN1_STRING_length(text)));
    } else if (name->type == GEN_IPADD) {
      const int length = ASN1_STRING_length(name->d.ip);
      char text[INET6_ADDRSTRLEN] = {};
      if ((length == 4 || length == 16) &&
          inet_ntop(length == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(name->d.ip), text, sizeof text)) {
        value = text;
      }
    }
    found = !value.empty() && std::find(allowed.begin(), allowed.end(), value) != allowed.end();
  }
  GENERAL_NAMES_free(names);
  return found;
}

// An HTTP request sent to the TLS port: as Go's servers (so every other
// exporter) do, answer 400 in plain text instead of only dropping the
// connection, which tells a user who forgot https:// what is wrong. OpenSSL
// shows each record header it reads here before it checks it; a TLS record
// starts with a type byte (20-24), an HTTP request with a method in capitals,
// on which OpenSSL then fails the handshake.
void detect_plain_http(int write_p, int, int content_type, const void* buf, std::size_t length, SSL* ssl,
                       void*) {
  if (write_p != 0 || content_type != SSL3_RT_HEADER || length < 4 || SSL_is_init_finished(ssl)) return;
  const auto* bytes = static_cast<const unsigned char*>(buf);
  if (!std::all_of(bytes, bytes + 4, [](unsigned char c) { return (c >= 'A' && c <= 'Z') || c == ' '; }))
    return;
  const int fd = SSL_get_fd(ssl);
  if (fd < 0) return;
  static constexpr char kAnswer[] =
      "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
      "Client sent an HTTP request to an HTTPS server.\n";
  if (::send(fd, kAnswer, sizeof kAnswer - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) return;
  ::shutdown(fd, SHUT_WR);
  // Read what the request left unread, so closing the socket sends a FIN
  // and not a reset that could destroy the answer before the client reads it.
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
}

}  // namespace

void check_tls_files(const TlsServerConfig& config) {
  std::string why;
  if (!load_pair(config, why)) {
    const bool key_problem = why.rfind("key_file", 0) == 0 && why.find("is not the key") == std::string::npos;
    throw UsageError((key_problem ? config.key_where : config.cert_where) + why +
                     " (the server needs a readable PEM certificate and its key)");
  }
  const bool has_ca = !config.client_ca_file.empty() || !config.client_ca_pem.empty();
  if (has_ca && !load_client_ca(config, why)) {
    throw UsageError(config.client_ca_where + why + " (give the PEM CA certificate(s) of the clients)");
  }
}

struct TlsContext::Impl {
  TlsServerConfig config;
  std::string error;
  bool verify_chain = false;

  std::mutex mutex;  // guards what follows
  std::chrono::steady_clock::time_point next_check;
  std::shared_ptr<Credentials> credentials;
  std::shared_ptr<ClientCa> client_ca;
  Stamp pair_stamp, pair_failed_stamp, ca_stamp, ca_failed_stamp;

  void refresh() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_check) return;
    next_check = now + kCheckInterval;
    if (!config.cert_file.empty() || !config.key_file.empty()) {
      Stamp current = stamp({config.cert_file, config.key_file});
      if (current != pair_stamp && current != pair_failed_stamp) {
        std::string why;
        if (auto fresh = load_pair(config, why)) {
          credentials = std::move(fresh);
          pair_stamp = std::move(current);
          pair_failed_stamp.clear();
          spdlog::info("TLS: certificate changed on disk, now serving {}", credentials->description);
        } else {
          pair_failed_stamp = std::move(current);
          spdlog::error(
              "TLS: the changed certificate or key cannot be used, still serving the previous one ({}): {}",
              credentials->description, why);
        }
      }
    }
    if (client_ca && !config.client_ca_file.empty()) {
      Stamp current = stamp({config.client_ca_file});
      if (current != ca_stamp && current != ca_failed_stamp) {
        std::string why;
        if (auto fresh = load_client_ca(config, why)) {
          client_ca = std::move(fresh);
          ca_stamp = std::move(current);
          ca_failed_stamp.clear();
          spdlog::info("TLS: client CA file {} changed on disk and was loaded again", config.client_ca_file);
        } else {
          ca_failed_stamp = std::move(current);
          spdlog::error("TLS: the changed client CA file cannot be used, still using the previous one: {}",
                        why);
        }
      }
    }
  }

  // Each handshake takes the certificate (and client CA) of the moment.
  static int certificate_callback(SSL* ssl, void* arg) {
    auto* impl = static_cast<Impl*>(arg);
    std::shared_ptr<Credentials> credentials;
    std::shared_ptr<ClientCa> ca;
    {
      std::lock_guard<std::mutex> lock(impl->mutex);
      impl->refresh();
      credentials = impl->credentials;
      ca = impl->client_ca;
    }
    if (SSL_use_cert_and_key(ssl, credentials->cert.get(), credentials->key.get(), credentials->chain.get(),
                             1) != 1) {
      spdlog::error("TLS: cannot use the certificate: {}", openssl_error());
      return 0;
    }
    if (ca) {
      SSL_set1_verify_cert_store(ssl, ca->store.get());
      SSL_set_client_CA_list(ssl, SSL_dup_CA_list(ca->names.get()));
    }
    return 1;
  }

  // Go's client auth types: Request/RequireAny take any certificate
  // unverified; the others verify it against the client CA. SANs, when
  // configured, are checked in every case.
  static int verify_callback(X509_STORE_CTX* store, void* arg) {
    auto* impl = static_cast<Impl*>(arg);
    int ok = impl->verify_chain ? X509_verify_cert(store) : 1;
    if (ok == 1 && !impl->config.client_allowed_sans.empty()) {
      X509* cert = X509_STORE_CTX_get0_cert(store);
      if (!cert || !has_allowed_san(cert, impl->config.client_allowed_sans)) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
        ok = 0;
      }
    }
    return ok;
  }
};

TlsContext::TlsContext(TlsServerConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  const TlsServerConfig& c = impl_->config;
  std::string why;
  impl_->credentials = load_pair(c, why);
  if (!impl_->credentials) throw UsageError(c.cert_where + why);
  impl_->pair_stamp = stamp({c.cert_file, c.key_file});
  if (!c.client_ca_file.empty() || !c.client_ca_pem.empty()) {
    impl_->client_ca = load_client_ca(c, why);
    if (!impl_->client_ca) throw UsageError(c.client_ca_where + why);
    impl_->ca_stamp = stamp({c.client_ca_file});
  }
  impl_->verify_chain = c.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                        c.client_auth == ClientAuth::kRequireAndVerifyClientCert;
  impl_->next_check = std::chrono::steady_clock::now() + kCheckInterval;
  spdlog::info("TLS: serving {}", impl_->credentials->description);
}

TlsContext::~TlsContext() = default;

const std::string& TlsContext::error() const { return impl_->error; }

bool TlsContext::configure(SSL_CTX& ctx) {
  const TlsServerConfig& c = impl_->config;
  auto fail = [&](const std::string& what) {
    impl_->error = what + ": " + openssl_error();
    return false;
  };
  long options =
      SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION | SSL_OP_NO_RENEGOTIATION;
  if (c.prefer_server_cipher_suites) options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
  SSL_CTX_set_options(&ctx, options);
  if (SSL_CTX_set_min_proto_version(&ctx, c.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(&ctx, c.max_version) != 1) {
    return fail("tls_server_config: cannot set min_version/max_version");
  }
  if (!c.cipher_list.empty() && SSL_CTX_set_cipher_list(&ctx, c.cipher_list.c_str()) != 1) {
    return fail("tls_server_config.cipher_suites: OpenSSL takes none of " + c.cipher_list);
  }
  if (!c.groups_list.empty() && SSL_CTX_set1_groups_list(&ctx, c.groups_list.c_str()) != 1) {
    return fail("tls_server_config.curve_preferences: OpenSSL refuses " + c.groups_list);
  }
  const Credentials& credentials = *impl_->credentials;
  if (SSL_CTX_use_cert_and_key(&ctx, credentials.cert.get(), credentials.key.get(), credentials.chain.get(),
                               1) != 1) {
    return fail("tls_server_config: cannot use the certificate");
  }
  SSL_CTX_set_cert_cb(&ctx, &Impl::certificate_callback, impl_.get());

  int mode = SSL_VERIFY_NONE;
  if (c.client_auth != ClientAuth::kNoClientCert) mode = SSL_VERIFY_PEER;
  if (c.client_auth == ClientAuth::kRequireAnyClientCert ||
      c.client_auth == ClientAuth::kRequireAndVerifyClientCert) {
    mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(&ctx, mode, nullptr);
  SSL_CTX_set_cert_verify_callback(&ctx, &Impl::verify_callback, impl_.get());
  if (impl_->client_ca) {
    SSL_CTX_set1_verify_cert_store(&ctx, impl_->client_ca->store.get());
    SSL_CTX_set_client_CA_list(&ctx, SSL_dup_CA_list(impl_->client_ca->names.get()));
  }
  // A server that verifies clients must name its sessions, or OpenSSL fails
  // every resumed one.
  static const unsigned char kSessionContext[] = "pgscope";
  SSL_CTX_set_session_id_context(&ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_msg_callback(&ctx, detect_plain_http);
  return true;
}

}  // namespace pgscope

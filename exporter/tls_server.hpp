#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "exporter/web_config.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace pgscope {

// Loads the certificate, key and client CA that `config` names, once.
// Throws UsageError ("file:line:column: what, what to do") when one cannot
// be read, is not PEM, or the key does not belong to the certificate.
void check_tls_files(const TlsServerConfig& config);

// The server side of TLS as tls_server_config asks for it, on OpenSSL.
// Certificates are rotated on disk without a restart (cert-manager, a
// kubelet-updated Secret): at most once a second, at the start of a
// handshake, the cert, key and client CA files are stat()ed, and when one
// changed (inode, size, mtime) they are loaded again. A new pair that does
// not load or match is logged once and the previous one kept serving.
// Connections that are open keep the certificate they started with.
class TlsContext {
 public:
  static constexpr std::chrono::milliseconds kCheckInterval{1000};

  explicit TlsContext(TlsServerConfig config);  // loads the files; throws UsageError
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Sets up `ctx` (the one httplib::SSLServer creates): versions, ciphers,
  // curves, certificate callback, client verification. False on failure,
  // with error() saying why. The context must not outlive this object.
  bool configure(SSL_CTX& ctx);
  const std::string& error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgscope

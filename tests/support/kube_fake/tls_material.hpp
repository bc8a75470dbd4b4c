// A throwaway CA and a server certificate it signs (SAN 127.0.0.1 and
// localhost), generated in memory with OpenSSL for the HTTPS mode.
#pragma once

#include <string>

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

namespace pgscope::kubefake {

class TlsMaterial {
 public:
  // Generates the CA and the server certificate; throws std::runtime_error
  // with OpenSSL's error text on failure.
  static TlsMaterial generate();
  TlsMaterial() = default;
  TlsMaterial(TlsMaterial&& other) noexcept;
  TlsMaterial& operator=(TlsMaterial&& other) noexcept;
  TlsMaterial(const TlsMaterial&) = delete;
  TlsMaterial& operator=(const TlsMaterial&) = delete;
  ~TlsMaterial();

  X509* server_certificate() const { return server_cert_; }
  EVP_PKEY* server_key() const { return server_key_; }
  const std::string& ca_pem() const { return ca_pem_; }

 private:
  void release();

  X509* server_cert_ = nullptr;
  EVP_PKEY* server_key_ = nullptr;
  std::string ca_pem_;
};

}  // namespace pgscope::kubefake

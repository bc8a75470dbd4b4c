#include "support/kube_fake/tls_material.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

namespace pgscope::kubefake {

namespace {

[[noreturn]] void openssl_failure(const std::string& what) {
  char text[256] = "";
  ERR_error_string_n(ERR_get_error(), text, sizeof(text));
  throw std::runtime_error("fake API server TLS: " + what + ": " + text);
}

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertDeleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using CertPtr = std::unique_ptr<X509, CertDeleter>;

KeyPtr new_key() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) openssl_failure("generating a P-256 key");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr) openssl_failure(std::string("extension ") + value);
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

CertPtr new_certificate(EVP_PKEY* key, const char* common_name, long serial) {
  CertPtr cert(X509_new());
  if (!cert) openssl_failure("X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  return cert;
}

}  // namespace

TlsMaterial TlsMaterial::generate() {
  KeyPtr ca_key = new_key();
  CertPtr ca = new_certificate(ca_key.get(), "pgscope fake API server CA", 1);
  X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get()));
  add_extension(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  if (X509_sign(ca.get(), ca_key.get(), EVP_sha256()) == 0) openssl_failure("signing the CA");

  KeyPtr server_key = new_key();
  CertPtr server = new_certificate(server_key.get(), "127.0.0.1", 2);
  X509_set_issuer_name(server.get(), X509_get_subject_name(ca.get()));
  add_extension(server.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(server.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_extension(server.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  add_extension(server.get(), ca.get(), NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  add_extension(server.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
  if (X509_sign(server.get(), ca_key.get(), EVP_sha256()) == 0)
    openssl_failure("signing the server certificate");

  BIO* pem = BIO_new(BIO_s_mem());
  if (pem == nullptr || PEM_write_bio_X509(pem, ca.get()) == 0) openssl_failure("writing the CA as PEM");
  char* data = nullptr;
  long length = BIO_get_mem_data(pem, &data);
  TlsMaterial material;
  material.ca_pem_.assign(data, static_cast<size_t>(length));
  BIO_free(pem);
  material.server_cert_ = server.release();
  material.server_key_ = server_key.release();
  return material;
}

TlsMaterial::TlsMaterial(TlsMaterial&& other) noexcept { *this = std::move(other); }

TlsMaterial& TlsMaterial::operator=(TlsMaterial&& other) noexcept {
  if (this != &other) {
    release();
    server_cert_ = other.server_cert_;
    server_key_ = other.server_key_;
    ca_pem_ = std::move(other.ca_pem_);
    other.server_cert_ = nullptr;
    other.server_key_ = nullptr;
  }
  return *this;
}

TlsMaterial::~TlsMaterial() { release(); }

void TlsMaterial::release() {
  X509_free(server_cert_);
  EVP_PKEY_free(server_key_);
  server_cert_ = nullptr;
  server_key_ = nullptr;
}

}  // namespace pgscope::kubefake

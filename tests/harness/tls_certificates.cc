#include "tests/harness/tls_certificates.h"

#include <arpa/inet.h>

#include <chrono>
#include <stdexcept>

#include "tests/harness/files.h"
#include "tests/harness/subprocess.h"

namespace tandem::testing {
namespace {

void Openssl(const std::string& log, const std::vector<std::string>& arguments) {
  SpawnOptions options;
  options.argv = {"openssl"};
  options.argv.insert(options.argv.end(), arguments.begin(), arguments.end());
  options.log_path = log;
  RunCommand(options, std::chrono::seconds(60));
}

bool IsIpAddress(const std::string& name) {
  unsigned char address[16];
  return inet_pton(AF_INET, name.c_str(), address) == 1 ||
         inet_pton(AF_INET6, name.c_str(), address) == 1;
}

// "DNS:localhost,IP:127.0.0.1".
std::string SubjectAltNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    out += (out.empty() ? "" : ",") + std::string(IsIpAddress(name) ? "IP:" : "DNS:") + name;
  }
  return out;
}

// A self-signed CA certificate and its key: dir/name.crt, dir/name.key.
void MakeCertificateAuthority(const std::string& dir, const std::string& name,
                              const std::string& subject) {
  Openssl(dir + "/openssl.log",
          {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".crt", "-subj",
           subject, "-days", "2"});
}

// A key and a certificate for `subject` signed by dir/ca.crt, with the extensions in `extensions`
// (openssl x509 -extfile syntax): dir/name.crt, dir/name.key.
void MakeSignedCertificate(const std::string& dir, const std::string& name,
                           const std::string& subject, const std::string& extensions,
                           const std::string& serial) {
  const std::string log = dir + "/openssl.log";
  WriteFileAtomically(dir + "/" + name + ".ext", extensions);
  Openssl(log, {"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".csr",
                "-subj", subject});
  Openssl(log, {"x509", "-req", "-in", dir + "/" + name + ".csr", "-CA", dir + "/ca.crt", "-CAkey",
                dir + "/ca.key", "-set_serial", serial, "-days", "2", "-out",
                dir + "/" + name + ".crt", "-extfile", dir + "/" + name + ".ext"});
}

// Like MakeSignedCertificate, valid only between two moments in the past: `openssl x509` of
// OpenSSL 3.0 always starts now, so the CA signs it through `openssl ca`, which takes the dates.
void MakeExpiredCertificate(const std::string& dir, const std::string& name,
                            const std::string& subject, const std::string& extensions) {
  const std::string log = dir + "/openssl.log";
  const std::string ca_dir = dir + "/" + name + "-ca";
  MakeDirectories(ca_dir, 0755);
  WriteFileAtomically(ca_dir + "/index.txt", "");
  WriteFileAtomically(ca_dir + "/serial", "10\n");
  WriteFileAtomically(ca_dir + "/openssl.cnf",
                      "[ca]\ndefault_ca = test_ca\n[test_ca]\ndatabase = " + ca_dir +
                          "/index.txt\nnew_certs_dir = " + ca_dir + "\nserial = " + ca_dir +
                          "/serial\ndefault_md = sha256\npolicy = any_name\n"
                          "unique_subject = no\n[any_name]\ncommonName = supplied\n");
  WriteFileAtomically(dir + "/" + name + ".ext", extensions);
  Openssl(log, {"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".csr",
                "-subj", subject});
  Openssl(log, {"ca", "-batch", "-config", ca_dir + "/openssl.cnf", "-cert", dir + "/ca.crt",
                "-keyfile", dir + "/ca.key", "-in", dir + "/" + name + ".csr", "-out",
                dir + "/" + name + ".crt", "-startdate", "20200101000000Z", "-enddate",
                "20200102000000Z", "-extfile", dir + "/" + name + ".ext", "-notext"});
}

}  // namespace

TestCertificates MakeTestCertificates(const std::string& dir,
                                      const std::vector<std::string>& server_names,
                                      const std::string& client_common_name) {
  if (server_names.empty()) {
    throw std::runtime_error("MakeTestCertificates: no server name given");
  }
  MakeDirectories(dir, 0755);
  MakeCertificateAuthority(dir, "ca", "/CN=tandem test CA");
  MakeCertificateAuthority(dir, "other-ca", "/CN=some other CA");
  MakeSignedCertificate(
      dir, "server", "/CN=" + server_names.front(),
      "subjectAltName=" + SubjectAltNames(server_names) + "\nextendedKeyUsage=serverAuth\n", "2");
  MakeExpiredCertificate(
      dir, "expired-server", "/CN=" + server_names.front(),
      "subjectAltName=" + SubjectAltNames(server_names) + "\nextendedKeyUsage=serverAuth\n");
  MakeSignedCertificate(dir, "client", "/CN=" + client_common_name, "extendedKeyUsage=clientAuth\n",
                        "3");
  TestCertificates certs;
  certs.dir = dir;
  certs.ca_cert = dir + "/ca.crt";
  certs.ca_key = dir + "/ca.key";
  certs.other_ca_cert = dir + "/other-ca.crt";
  certs.server_cert = dir + "/server.crt";
  certs.server_key = dir + "/server.key";
  certs.client_cert = dir + "/client.crt";
  certs.client_key = dir + "/client.key";
  certs.expired_server_cert = dir + "/expired-server.crt";
  certs.expired_server_key = dir + "/expired-server.key";
  return certs;
}

}  // namespace tandem::testing

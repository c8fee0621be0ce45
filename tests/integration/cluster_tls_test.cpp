// TLS between real strata processes (--cluster-tls): nodes with certificates
// signed by one CA (made here with the openssl command) join over
// caf::openssl, and writes routed either way read back whole.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

// 40 series `name` written through `to`, read back through `from`: every series, every sample.
void write_and_read_back(const node& to, const node& from, const std::string& name) {
  int64_t base = now_ms() - 600'000;
  write_batch b;
  for (int i = 0; i < 40; ++i) {
    series s{{{"__name__", name}, {"i", std::to_string(i)}}, {}};
    for (int k = 0; k < 10; ++k) s.samples.push_back({base + k * 15000, i + k * 0.5});
    b.push_back(std::move(s));
  }
  ASSERT_EQ(remote_write(to.http_port, b).status, 204);
  auto got = read_matrix(query(from.http_port, name + "[15m]", now_ms()));
  ASSERT_EQ(got.size(), 40u);
  for (const auto& [ls, samples] : got) EXPECT_EQ(samples.size(), 10u) << to_string(ls);
}

class ClusterTls : public ::testing::Test {
 protected:
  void SetUp() override { root_ = make_temp_dir(); }
  void TearDown() override {
    for (node* n : {&a_, &b_, &c_})
      if (n->proc) n->stop(SIGKILL, 5000);
    if (!HasFailure()) remove_dir(root_);
  }
  // Runs the openssl command; fails the test when it fails.
  void openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    child_process p(args, root_ + "/openssl.log");
    ASSERT_EQ(p.wait(30000), 0) << read_file(root_ + "/openssl.log");
  }
  void make_cert(const std::string& name) {
    std::string k = root_ + "/" + name;
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", k + ".key",
             "-out", k + ".csr", "-subj", "/CN=" + name});
    openssl({"x509", "-req", "-in", k + ".csr", "-CA", root_ + "/ca.pem", "-CAkey", root_ + "/ca.key",
             "-CAcreateserial", "-out", k + ".pem", "-days", "2"});
  }
  std::string root_;
  node a_, b_, c_;
};

TEST_F(ClusterTls, NodesWithCertificatesOfOneCaAuthenticateEachOther) {
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           root_ + "/ca.key", "-out", root_ + "/ca.pem", "-days", "2", "-subj", "/CN=strata-test-ca"});
  make_cert("a");
  make_cert("b");
  a_ = make_node(root_ + "/a");
  b_ = make_node(root_ + "/b", {a_.cluster_address()});
  for (auto [n, name] : {std::pair{&a_, "a"}, std::pair{&b_, "b"}})
    n->extra_args = {"--cluster-tls=true", "--cluster-tls-cert", root_ + "/" + name + ".pem", "--cluster-tls-key",
                     root_ + "/" + name + ".key", "--cluster-tls-ca", root_ + "/ca.pem"};
  a_.start();
  b_.start();
  ASSERT_TRUE(wait_until(20000, [&] { return a_.live_members() == 2 && b_.live_members() == 2; }));
  write_and_read_back(b_, a_, "tls_from_b");
  write_and_read_back(a_, b_, "tls_from_a");
}

TEST_F(ClusterTls, IncompleteTlsFlagsStopTheStartWithTheFix) {
  a_ = make_node(root_ + "/a");
  child_process p({STRATA_BINARY, "serve", "--data-dir", a_.data_dir, "--http-listen",
                   "127.0.0.1:" + std::to_string(a_.http_port), "--cluster-listen", a_.cluster_address(),
                   "--cluster-tls=true"},
                  root_ + "/a.out");
  EXPECT_NE(p.wait(10000), 0);
  EXPECT_NE(read_file(root_ + "/a.out").find("--cluster-tls needs --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca"),
            std::string::npos)
      << read_file(root_ + "/a.out");
}

}  // namespace
}  // namespace strata::testing

// The OCI documents' parsers and SHA-256: known vectors, every field's errors naming the field,
// manifest selection by tag and platform, the user lookup, corral's record round trip.
#include "tools/images/oci/oci_format.h"

#include <signal.h>

#include <string>

#include "gtest/gtest.h"
#include "tools/images/oci/sha256.h"

namespace corral::images::oci {
namespace {

const std::string kD1 = "sha256:" + std::string(64, 'a');
const std::string kD2 = "sha256:" + std::string(64, 'b');
const std::string kD3 = "sha256:" + std::string(64, 'c');

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Digest(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Digest("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 million;
  std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.Update(chunk);
  EXPECT_EQ(million.HexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, ChunkingDoesNotMatter) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7));
  for (size_t step : {1u, 3u, 63u, 64u, 65u, 200u}) {
    Sha256 h;
    for (size_t i = 0; i < data.size(); i += step) h.Update(data.substr(i, step));
    EXPECT_EQ("sha256:" + h.HexDigest(), Sha256Digest(data)) << step;
  }
}

TEST(DigestTest, OnlyLowerCaseSha256) {
  EXPECT_TRUE(ValidateDigest(kD1).ok());
  EXPECT_FALSE(ValidateDigest("sha256:" + std::string(64, 'A')).ok());
  EXPECT_FALSE(ValidateDigest("sha256:abc").ok());
  EXPECT_FALSE(ValidateDigest(std::string(64, 'a')).ok());
  EXPECT_EQ(ValidateDigest("sha512:" + std::string(128, 'a')).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(DigestHex(kD1), std::string(64, 'a'));
}

std::string Desc(const std::string& digest, int size, const std::string& extra = "") {
  return "{\"mediaType\":\"" + std::string(kMediaOciManifest) + "\",\"digest\":\"" + digest +
         "\",\"size\":" + std::to_string(size) + extra + "}";
}

TEST(IndexTest, ParsesManifestsWithTagsAndPlatforms) {
  std::string text = "{\"schemaVersion\":2,\"manifests\":[" +
                     Desc(kD1, 10, ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}") + "," +
                     Desc(kD2, 20, ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"docker.io/lib/web:v2\"},"
                                   "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}") +
                     "]}";
  absl::StatusOr<std::vector<Descriptor>> index = ParseIndex(text);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_EQ(index->size(), 2u);
  EXPECT_EQ((*index)[0].ref_name, "v1");
  EXPECT_EQ((*index)[1].size, 20);
  EXPECT_EQ((*index)[1].architecture, "arm64");
  EXPECT_EQ(SelectManifest(*index, "v1", "amd64")->digest, kD1);
  EXPECT_EQ(SelectManifest(*index, "v2", "amd64")->digest, kD2);  // the part after the last ':'
  EXPECT_EQ(SelectManifest(*index, "docker.io/lib/web:v2", "amd64")->digest, kD2);
  absl::StatusOr<Descriptor> none = SelectManifest(*index, "v3", "amd64");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("tags: v1, docker.io/lib/web:v2"), std::string::npos) << none.status();
  EXPECT_EQ(SelectManifest(*index, "", "arm64")->digest, kD2);  // no tag: the host's platform
  EXPECT_FALSE(SelectManifest(*index, "", "amd64").ok());
}

TEST(IndexTest, ErrorsNameTheField) {
  EXPECT_NE(ParseIndex("{").status().message().find("not valid JSON"), std::string::npos);
  EXPECT_NE(ParseIndex("{\"manifests\":[]}").status().message().find("schemaVersion"), std::string::npos);
  EXPECT_NE(ParseIndex("{\"schemaVersion\":2,\"manifests\":{}}").status().message().find("manifests"), std::string::npos);
  EXPECT_NE(ParseIndex("{\"schemaVersion\":2,\"manifests\":[]}").status().message().find("empty"), std::string::npos);
  absl::Status bad = ParseIndex("{\"schemaVersion\":2,\"manifests\":[" + Desc("sha256:xyz", 1) + "]}").status();
  EXPECT_NE(bad.message().find("manifests[0].digest"), std::string::npos) << bad;
  bad = ParseIndex("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" + kD1 + "\",\"size\":-1}]}").status();
  EXPECT_NE(bad.message().find("manifests[0].size"), std::string::npos) << bad;
  bad = ParseIndex("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" + kD1 + "\",\"size\":\"1\"}]}").status();
  EXPECT_NE(bad.message().find("manifests[0].size"), std::string::npos) << bad;
}

std::string ManifestText(const std::string& layer_type) {
  return "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
         "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" +
         kD1 + "\",\"size\":5},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" +
         kD2 + "\",\"size\":7},{\"mediaType\":\"" + layer_type + "\",\"digest\":\"" + kD3 + "\",\"size\":9}]}";
}

TEST(ManifestTest, ParsesConfigAndLayersInOrder) {
  absl::StatusOr<Manifest> m = ParseManifest(ManifestText("application/vnd.oci.image.layer.v1.tar+zstd"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->config.digest, kD1);
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[0].digest, kD2);
  EXPECT_EQ(*LayerCompression(m->layers[1].media_type), Compression::kZstd);
  EXPECT_TRUE(ParseManifest(ManifestText("application/vnd.docker.image.rootfs.diff.tar.gzip")).ok());
  EXPECT_TRUE(ParseManifest(ManifestText("application/vnd.oci.image.layer.v1.tar")).ok());
}

TEST(ManifestTest, RefusesWhatItCannotUnpack) {
  absl::Status bad = ParseManifest(ManifestText("application/vnd.oci.image.layer.v1.tar+gzip+encrypted")).status();
  EXPECT_NE(bad.message().find("layers[1].mediaType"), std::string::npos) << bad;
  EXPECT_NE(ParseManifest("{\"schemaVersion\":1}").status().message().find("schema 1"), std::string::npos);
  EXPECT_NE(ParseManifest("{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kMediaOciIndex) + "\"}").status().message().find("mediaType"),
            std::string::npos);
  EXPECT_NE(ParseManifest("{\"schemaVersion\":2,\"layers\":[]}").status().message().find("config"), std::string::npos);
}

TEST(ConfigTest, ReadsTheDefaults) {
  absl::StatusOr<ImageConfig> c = ParseImageConfig(
      R"({"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"],)"
      R"("Env":["PATH=/bin","A=b=c"],"WorkingDir":"/srv","User":"app:staff","StopSignal":"SIGINT",)"
      R"("ExposedPorts":{"8080/tcp":{},"53/udp":{}}},"rootfs":{"type":"layers","diff_ids":[")" + kD1 + "\",\"" + kD2 + "\"]}}");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->entrypoint, (std::vector<std::string>{"/bin/sh", "-c"}));
  EXPECT_EQ(c->cmd, (std::vector<std::string>{"echo hi"}));
  EXPECT_EQ(c->env[1], "A=b=c");
  EXPECT_EQ(c->working_dir, "/srv");
  EXPECT_EQ(c->user, "app:staff");
  EXPECT_EQ(c->stop_signal, "SIGINT");
  EXPECT_EQ(c->exposed_ports, (std::vector<std::string>{"53/udp", "8080/tcp"}));
  EXPECT_EQ(c->diff_ids, (std::vector<std::string>{kD1, kD2}));
  // No config object at all: no defaults, still an image.
  EXPECT_TRUE(ParseImageConfig(R"({"rootfs":{"type":"layers","diff_ids":[]}})").ok());
  EXPECT_TRUE(ParseImageConfig(R"({"config":null,"rootfs":{"type":"layers","diff_ids":[]}})").ok());
}

TEST(ConfigTest, ErrorsNameTheField) {
  auto error_of = [](const std::string& config) {
    return std::string(ParseImageConfig("{\"config\":" + config + ",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}").status().message());
  };
  EXPECT_NE(error_of(R"({"Env":"A=b"})").find("Env"), std::string::npos);
  EXPECT_NE(error_of(R"({"Env":["=b"]})").find("config.Env"), std::string::npos);
  EXPECT_NE(error_of(R"({"Cmd":[1]})").find("Cmd"), std::string::npos);
  EXPECT_NE(error_of(R"({"WorkingDir":"srv"})").find("config.WorkingDir"), std::string::npos);
  EXPECT_NE(error_of(R"({"StopSignal":"SIGNOPE"})").find("config.StopSignal"), std::string::npos);
  EXPECT_NE(error_of(R"({"ExposedPorts":["80"]})").find("ExposedPorts"), std::string::npos);
  EXPECT_NE(error_of(R"([])").find("config"), std::string::npos);
  EXPECT_NE(std::string(ParseImageConfig("{}").status().message()).find("rootfs"), std::string::npos);
  EXPECT_NE(std::string(ParseImageConfig(R"({"rootfs":{"type":"x"}})").status().message()).find("rootfs.type"), std::string::npos);
  EXPECT_NE(std::string(ParseImageConfig(R"({"rootfs":{"type":"layers","diff_ids":["md5:1"]}})").status().message())
                .find("rootfs.diff_ids[0]"),
            std::string::npos);
}

TEST(DockerArchiveTest, Entries) {
  absl::StatusOr<std::vector<DockerArchiveEntry>> e = ParseDockerArchiveManifest(
      R"([{"Config":"abc.json","RepoTags":["busybox:latest"],"Layers":["l1/layer.tar","l2/layer.tar"]}])");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ((*e)[0].config, "abc.json");
  EXPECT_EQ((*e)[0].layers[1], "l2/layer.tar");
  EXPECT_FALSE(ParseDockerArchiveManifest("[]").ok());
  EXPECT_FALSE(ParseDockerArchiveManifest("{}").ok());
  EXPECT_NE(std::string(ParseDockerArchiveManifest(R"([{"Layers":[]}])").status().message()).find("Config"), std::string::npos);
}

TEST(CompressionTest, SniffsMagic) {
  EXPECT_EQ(SniffCompression("\x1f\x8b\x08"), Compression::kGzip);
  EXPECT_EQ(SniffCompression(std::string("\x28\xb5\x2f\xfd", 4)), Compression::kZstd);
  EXPECT_EQ(SniffCompression("./\0\0"), Compression::kNone);
  EXPECT_EQ(SniffCompression(""), Compression::kNone);
}

TEST(SignalTest, NamesAndNumbers) {
  EXPECT_EQ(*ParseSignal("SIGTERM"), SIGTERM);
  EXPECT_EQ(*ParseSignal("int"), SIGINT);
  EXPECT_EQ(*ParseSignal("9"), 9);
  EXPECT_EQ(*ParseSignal("SIGRTMIN+3"), SIGRTMIN + 3);
  EXPECT_FALSE(ParseSignal("SIGFOO").ok());
  EXPECT_FALSE(ParseSignal("0").ok());
  EXPECT_FALSE(ParseSignal("99").ok());
  EXPECT_FALSE(ParseSignal("SIGRTMIN+99").ok());
}

TEST(UserTest, ResolvesAgainstTheImagesFiles) {
  const std::string passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/srv:/bin/sh\n";
  const std::string group = "root:x:0:\nstaff:x:50:\n";
  uint32_t uid = 9, gid = 9;
  ASSERT_TRUE(ResolveUser("", passwd, group, &uid, &gid).ok());
  EXPECT_EQ(uid, 0u);
  ASSERT_TRUE(ResolveUser("app", passwd, group, &uid, &gid).ok());
  EXPECT_EQ(uid, 1000u);
  EXPECT_EQ(gid, 1001u);
  ASSERT_TRUE(ResolveUser("1000", passwd, group, &uid, &gid).ok());
  EXPECT_EQ(gid, 1001u);  // a numeric uid keeps its passwd group
  ASSERT_TRUE(ResolveUser("app:staff", passwd, group, &uid, &gid).ok());
  EXPECT_EQ(gid, 50u);
  ASSERT_TRUE(ResolveUser("4242:7", "", "", &uid, &gid).ok());
  EXPECT_EQ(uid, 4242u);
  EXPECT_EQ(gid, 7u);
  EXPECT_EQ(ResolveUser("bob", passwd, group, &uid, &gid).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ResolveUser("app:wheel", passwd, group, &uid, &gid).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(ResolveUser(":1", passwd, group, &uid, &gid).ok());
  EXPECT_FALSE(ResolveUser("app:", passwd, group, &uid, &gid).ok());
}

TEST(RecordTest, RoundTripsAndOrdersLayersTopFirst) {
  ImageRecord r;
  r.name = "web";
  r.source = "oci:/x:y";
  r.manifest_digest = kD1;
  r.layers = {{kD1, kD2, "gzip", 10, 100}, {kD3, kD3, "none", 20, 200}};
  r.config.cmd = {"sleep", "1"};
  r.config.env = {"A=1"};
  r.config.working_dir = "/w";
  r.config.exposed_ports = {"80/tcp"};
  r.uid = 1000;
  r.gid = 1001;
  r.stop_signal = SIGINT;
  r.created_sec = 12345;
  absl::StatusOr<ImageRecord> back = ParseRecord(FormatRecord(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name, "web");
  ASSERT_EQ(back->layers.size(), 2u);
  EXPECT_EQ(back->layers[1].unpacked_bytes, 200);
  EXPECT_EQ(back->config.cmd, r.config.cmd);
  EXPECT_EQ(back->config.exposed_ports, r.config.exposed_ports);
  EXPECT_EQ(back->uid, 1000u);
  EXPECT_EQ(back->stop_signal, SIGINT);
  EXPECT_EQ(LowerDirs("/s", *back), (std::vector<std::string>{"/s/layers/sha256/" + std::string(64, 'c'),
                                                                 "/s/layers/sha256/" + std::string(64, 'a')}));
  EXPECT_FALSE(ParseRecord("{\"format\":\"other\"}").ok());
  EXPECT_FALSE(ParseRecord("{\"format\":\"corral-oci-image-1\",\"layers\":[{\"diff_id\":\"../../x\"}]}").ok());
  EXPECT_FALSE(ParseRecord("{\"format\":\"corral-oci-image-1\",\"layers\":[],\"uid\":-1}").ok());
}

}  // namespace
}  // namespace corral::images::oci

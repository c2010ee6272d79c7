#include "privacy/model.h"

#include <gtest/gtest.h>

#include "platform/crypto.h"

namespace recur::privacy {
namespace {

// What the walk hands the cipher, in order: "owner|associated".
std::vector<std::string> visits(Json doc, std::string_view type = "", const std::string& owner = "") {
  std::vector<std::string> seen;
  auto st = walk(doc, "rec_1", [&](Json& value, const std::string& who, const std::string& associated) -> Status {
    seen.push_back(who + "|" + associated + "=" + value.dump());
    return Ok{};
  }, type, owner);
  EXPECT_TRUE(st.ok());
  return seen;
}

TEST(PrivacyWalk, ACustomersPersonalFieldsUnderItsOwnKey) {
  Json customer = {{"id", "cus_1"}, {"object", "customer"}, {"email", "a@b.co"}, {"name", "Ada"},
                   {"phone", nullptr}, {"shipping_address", {{"line1", "1 Main"}}}, {"metadata", {{"k", "v"}}}};
  EXPECT_EQ(visits(customer), (std::vector<std::string>{
                                  R"(cus_1|rec_1|cus_1|name="Ada")",
                                  R"(cus_1|rec_1|cus_1|email="a@b.co")",
                                  R"(cus_1|rec_1|cus_1|phone=null)",
                                  R"(cus_1|rec_1|cus_1|shipping_address={"line1":"1 Main"})",
                              }));
}

TEST(PrivacyWalk, NestedPathsListsAndExpandedObjectsAreFound) {
  Json list = {{"object", "list"},
               {"data", Json::array({{{"id", "sub_1"},
                                      {"object", "subscription"},
                                      {"customer", "cus_9"},
                                      {"shipping_address", nullptr},
                                      {"cancellation", {{"reason", "other"}, {"comment", "too pricey"}}}},
                                     {{"id", "sub_2"},
                                      {"object", "subscription"},
                                      {"customer", {{"id", "cus_8"}, {"object", "customer"}, {"email", "x@y.z"}}},
                                      {"cancellation", nullptr}}})}};
  EXPECT_EQ(visits(list), (std::vector<std::string>{
                              R"(cus_9|rec_1|sub_1|shipping_address=null)",
                              R"(cus_9|rec_1|sub_1|cancellation.comment="too pricey")",
                              R"(cus_8|rec_1|cus_8|email="x@y.z")",
                          }));
}

TEST(PrivacyWalk, ObjectsWithoutATypeAreNamedByTheCallerAndInheritTheOwner) {
  Json details = {{"at", "now"}, {"reason", "other"}, {"comment", "moving abroad"}};
  EXPECT_EQ(visits(details, "event_details", "cus_3"),
            (std::vector<std::string>{R"(cus_3|rec_1||comment="moving abroad")"}));
  EXPECT_TRUE(visits(details).empty());  // untyped, unnamed: nothing known to be personal
}

TEST(PrivacyWalk, ANotificationWithoutACustomerUsesTheSystemKey) {
  Json n = {{"id", "ntf_1"}, {"object", "notification"}, {"customer", nullptr}, {"to", "ops@shop.example"},
            {"subject", "Low stock"}, {"text", "t"}, {"html", nullptr}, {"secrets", Json::array()}};
  auto seen = visits(n);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0], R"(|rec_1|ntf_1|to="ops@shop.example")");
}

TEST(PrivacyWalk, StopsAtTheFirstError) {
  Json customer = {{"id", "cus_1"}, {"object", "customer"}, {"email", "a@b.co"}, {"name", "Ada"}};
  int calls = 0;
  auto st = walk(customer, "r", [&](Json&, const std::string&, const std::string&) -> Status {
    ++calls;
    return Error::internal("boom");
  });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(calls, 1);
}

TEST(PrivacySealedText, RoundTripsAndIsRecognised) {
  auto text = sealed_text(std::string("\x00\x01\xff", 3));
  EXPECT_TRUE(text.starts_with("enc1:"));
  EXPECT_TRUE(is_sealed(Json(text)));
  EXPECT_EQ(*ciphertext_of(Json(text)), std::string("\x00\x01\xff", 3));
  EXPECT_FALSE(is_sealed(Json("ada@example.com")));
  EXPECT_FALSE(is_sealed(Json(nullptr)));
  EXPECT_FALSE(ciphertext_of(Json(42)).has_value());
}

TEST(PrivacyOwner, FromTheObjectItsCustomerFieldOrTheParent) {
  EXPECT_EQ(owner_of(Json{{"object", "customer"}, {"id", "cus_1"}}, "cus_x"), "cus_1");
  EXPECT_EQ(owner_of(Json{{"object", "invoice"}, {"customer", "cus_2"}}, "cus_x"), "cus_2");
  EXPECT_EQ(owner_of(Json{{"customer", {{"id", "cus_3"}}}}, ""), "cus_3");
  EXPECT_EQ(owner_of(Json{{"object", "plan"}}, "cus_x"), "cus_x");
  EXPECT_EQ(owner_of(Json(nullptr), "cus_y"), "cus_y");
}

TEST(PrivacyEmail, NormalisedForTheBlindIndex) {
  EXPECT_EQ(normalize_email("  Ada.Lovelace@Example.COM\t"), "ada.lovelace@example.com");
  EXPECT_EQ(normalize_email("ü@ß.de"), "ü@ß.de");  // non-ASCII kept as it is
}

TEST(Crypto, SealOpensOnlyWithTheSameKeyAndAssociatedData) {
  auto key = crypto::Key::random();
  auto other = crypto::Key::random();
  auto sealed = crypto::seal(key, "Ada Lovelace", "cus_1|name");
  EXPECT_EQ(sealed.find("Ada"), std::string::npos);
  EXPECT_EQ(crypto::open(key, sealed, "cus_1|name"), std::optional<std::string>("Ada Lovelace"));
  EXPECT_FALSE(crypto::open(key, sealed, "cus_2|name").has_value());  // moved to another record
  EXPECT_FALSE(crypto::open(other, sealed, "cus_1|name").has_value());
  auto tampered = sealed;
  tampered[tampered.size() - 1] ^= 1;
  EXPECT_FALSE(crypto::open(key, tampered, "cus_1|name").has_value());
  EXPECT_FALSE(crypto::open(crypto::Key(), sealed, "cus_1|name").has_value());  // an unset key
  // A fresh nonce each time: equal plaintexts do not give equal ciphertexts.
  EXPECT_NE(crypto::seal(key, "x", ""), crypto::seal(key, "x", ""));
}

TEST(Crypto, WrappedKeysUnwrapOnlyForTheirPurpose) {
  auto kek = crypto::Key::random();
  auto key = crypto::Key::random();
  auto wrapped = crypto::wrap(kek, key, "data key|cus_1");
  auto back = crypto::unwrap(kek, wrapped, "data key|cus_1");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->bytes(), key.bytes());
  EXPECT_FALSE(crypto::unwrap(kek, wrapped, "data key|cus_2").has_value());
  EXPECT_EQ(key.fingerprint(), back->fingerprint());
  EXPECT_NE(key.fingerprint(), kek.fingerprint());
  EXPECT_EQ(key.fingerprint().size(), 16u);
}

TEST(Crypto, KeyedHashIsStablePerKeyAndDiffersAcrossKeys) {
  auto a = crypto::Key::random();
  auto b = crypto::Key::random();
  EXPECT_EQ(crypto::keyed_hash_hex(a, "email:ada@example.com"), crypto::keyed_hash_hex(a, "email:ada@example.com"));
  EXPECT_NE(crypto::keyed_hash_hex(a, "email:ada@example.com"), crypto::keyed_hash_hex(b, "email:ada@example.com"));
  EXPECT_NE(crypto::keyed_hash_hex(a, "email:ada@example.com"), crypto::keyed_hash_hex(a, "email:bob@example.com"));
  EXPECT_EQ(crypto::keyed_hash_hex(a, "x").size(), 64u);
  EXPECT_FALSE(crypto::Key::from_bytes("short").has_value());
}

}  // namespace
}  // namespace recur::privacy

// The MIME message the SMTP sender writes.
#include "notify/email.h"

#include <gtest/gtest.h>

#include "platform/time.h"

namespace recur::notify {
namespace {

TEST(MimeMessage, HasTheHeadersAndBothPartsInBase64WithCrlfLines) {
  Email e{"ntf_1", "ada@example.com", "Your receipt", "Hi Ada", "<p>Hi Ada</p>"};
  auto m = mime_message(e, "Shop <billing@shop.example>", parse_rfc3339("2026-02-05T10:00:00Z").value());
  EXPECT_NE(m.find("Date: Thu, 05 Feb 2026 10:00:00 +0000\r\n"), std::string::npos) << m;
  EXPECT_NE(m.find("Message-ID: <ntf_1@shop.example>\r\n"), std::string::npos);
  EXPECT_NE(m.find("From: Shop <billing@shop.example>\r\n"), std::string::npos);
  EXPECT_NE(m.find("To: ada@example.com\r\n"), std::string::npos);
  EXPECT_NE(m.find("Subject: Your receipt\r\n"), std::string::npos);
  EXPECT_NE(m.find("Content-Type: multipart/alternative; boundary=\"=_recur_ntf_1\"\r\n"), std::string::npos);
  EXPECT_NE(m.find("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                   base64("Hi Ada") + "\r\n"),
            std::string::npos);
  EXPECT_NE(m.find(base64("<p>Hi Ada</p>")), std::string::npos);
  EXPECT_NE(m.find("--=_recur_ntf_1--\r\n"), std::string::npos);
  for (std::size_t i = m.find('\n'); i != std::string::npos; i = m.find('\n', i + 1)) ASSERT_EQ(m[i - 1], '\r');
}

TEST(MimeMessage, NonAsciiSubjectBecomesEncodedWordsOfAtMost75Characters) {
  Email e{"ntf_2", "a@b.example", std::string(30, 'x') + "\xC3\xA9t\xC3\xA9 " + std::string(40, 'y'), "t", "h"};
  auto m = mime_message(e, "a@b.example", 0);
  auto start = m.find("Subject: ") + 9;
  auto header = m.substr(start, m.find("\r\nMIME-Version") - start);
  EXPECT_EQ(header.rfind("=?UTF-8?B?", 0), 0u) << header;
  for (std::size_t pos = 0; pos != std::string::npos;) {
    auto next = header.find("\r\n ", pos);
    EXPECT_LE((next == std::string::npos ? header.size() : next) - pos, 75u);
    pos = next == std::string::npos ? next : next + 3;
  }
}

TEST(MimeMessage, LongBodiesAreWrappedAt76Characters) {
  Email e{"ntf_3", "a@b.example", "s", std::string(1000, 'x'), "h"};
  auto m = mime_message(e, "a@b.example", 0);
  for (std::size_t start = 0, end; (end = m.find("\r\n", start)) != std::string::npos; start = end + 2)
    EXPECT_LE(end - start, 998u);
  EXPECT_NE(m.find(base64(std::string(1000, 'x')).substr(0, 76) + "\r\n"), std::string::npos);
}

TEST(MimeMessage, AttachmentsMakeAMixedMessageWithTheAlternativePartFirst) {
  Email e{"ntf_4", "ada@example.com", "Your receipt", "Hi Ada", "<p>Hi Ada</p>"};
  std::string pdf = "%PDF-1.3\n\x00\xff binary";
  pdf.append(200, '\x01');
  e.attachments.push_back({"invoice-INV-000001.pdf", "application/pdf", pdf});
  e.attachments.push_back({"bad\"name\r\n.pdf", "application/pdf", "x"});
  auto m = mime_message(e, "a@b.example", 0);
  auto mixed = m.find("Content-Type: multipart/mixed; boundary=\"=_recur_mixed_ntf_4\"\r\n\r\n--=_recur_mixed_ntf_4\r\n"
                      "Content-Type: multipart/alternative; boundary=\"=_recur_ntf_4\"\r\n");
  ASSERT_NE(mixed, std::string::npos) << m;
  auto alt_end = m.find("--=_recur_ntf_4--\r\n");
  auto file = m.find("--=_recur_mixed_ntf_4\r\nContent-Type: application/pdf; name=\"invoice-INV-000001.pdf\"\r\n"
                     "Content-Disposition: attachment; filename=\"invoice-INV-000001.pdf\"\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n" + base64(pdf, 76) + "\r\n");
  ASSERT_NE(file, std::string::npos) << m;
  EXPECT_LT(alt_end, file);
  // A file name never breaks out of its header.
  EXPECT_NE(m.find("filename=\"badname.pdf\""), std::string::npos);
  EXPECT_EQ(m.rfind("--=_recur_mixed_ntf_4--\r\n"), m.size() - std::string("--=_recur_mixed_ntf_4--\r\n").size());
  for (std::size_t i = m.find('\n'); i != std::string::npos; i = m.find('\n', i + 1)) ASSERT_EQ(m[i - 1], '\r');
}

TEST(MimeMessage, NoAttachmentsNoMixedPart) {
  Email e{"ntf_5", "a@b.example", "s", "t", "h"};
  EXPECT_EQ(mime_message(e, "a@b.example", 0).find("multipart/mixed"), std::string::npos);
}

TEST(Addresses, FromWithADisplayNameGivesTheBareAddressForMailFrom) {
  EXPECT_EQ(address_of("Shop <billing@shop.example>"), "billing@shop.example");
  EXPECT_EQ(address_of("billing@shop.example"), "billing@shop.example");
}

}  // namespace
}  // namespace recur::notify

// Notifications against a real database (SQLite or PostgreSQL per RECUR_TEST_ENGINE), a real
// SMTP server and a local SMS provider stand-in: what arrived, and what the record says.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <barrier>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "notify/service.h"
#include "platform/base64.h"
#include "platform/http/pipeline.h"
#include "platform/net/http_client.h"
#include "testing/captured_log.h"
#include "testing/fixtures.h"
#include "testing/local_servers.h"

namespace recur::notify {
namespace {

using testing::at;

// One received e-mail, parsed just enough to check it.
struct Mail {
  std::string raw;  // without '\r'

  std::string header(const std::string& name) const {
    auto head = raw.substr(0, raw.find("\n\n"));
    auto pos = ("\n" + head).find("\n" + name + ": ");
    if (pos == std::string::npos) return "";
    auto start = pos + name.size() + 2;
    return head.substr(start, head.find('\n', start) - start);
  }
  // The decoded body of the MIME part of this content type ("text/plain").
  std::string part(const std::string& type) const {
    auto pos = raw.find("Content-Type: " + type + ";");
    if (pos == std::string::npos) return "";
    auto start = raw.find("\n\n", pos) + 2;
    std::string b64 = raw.substr(start, raw.find("\n--", start) - start);
    return base64_decode(b64, "\n").value_or("<bad base64>");
  }
};

std::vector<Mail> mails_for(const testing::SmtpServer& server, const std::string& notification_id) {
  std::vector<Mail> out;
  for (auto raw : server.messages()) {
    std::erase(raw, '\r');
    Mail m{raw};
    if (m.header("Message-ID").find("<" + notification_id + "@") == 0) out.push_back(m);
  }
  return out;
}

Json receipt_data() {
  return {{"customer_name", "Ada <Lovelace>"}, {"amount", "$24.00"}, {"description", "Coffee box"},
          {"date", "2026-02-01"}, {"invoice_id", "in_0001"}};
}

Message receipt(const std::string& to = "ada@example.com") {
  Message m;
  m.template_name = "receipt";
  m.to = to;
  m.data = receipt_data();
  m.customer = "cus_1";
  m.resource = "in_0001";
  return m;
}

// A stand-in SMS provider (tests/notify/sms_sink.py) answering every POST with `status`.
class SmsSink {
 public:
  explicit SmsSink(int status) : port_(testing::free_port()), dir_(testing::fresh_temp_dir("sms")) {
    process_ = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{"/usr/bin/python3", RECUR_SOURCE_DIR "/tests/notify/sms_sink.py", std::to_string(port_),
                                 (dir_ / "requests.jsonl").string(), std::to_string(status)},
        (dir_ / "sink.log").string());
    if (!testing::wait_for_port(port_)) throw std::runtime_error("the SMS sink did not start");
  }
  ~SmsSink() {
    process_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/2010-04-01/Accounts/AC1/Messages.json"; }
  std::vector<Json> requests() const {
    std::vector<Json> out;
    std::istringstream lines(testing::read_file(dir_ / "requests.jsonl"));
    for (std::string line; std::getline(lines, line);) out.push_back(Json::parse(line));
    return out;
  }

 private:
  int port_;
  std::filesystem::path dir_;
  std::unique_ptr<testing::ChildProcess> process_;
};

class NotifyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { smtp = new testing::SmtpServer(); }
  static void TearDownTestSuite() {
    delete smtp;
    smtp = nullptr;
  }

  void SetUp() override { t = testing::make_app(at("2026-02-01T10:00:00Z")); }

  // A notifier on this test's database that mails through `smtp_url`.
  std::unique_ptr<Notifier> notifier(const std::string& smtp_url, app::App* app = nullptr) {
    app = app ? app : t.app.get();
    email_senders.push_back(std::make_unique<SmtpEmailSender>(
        SmtpOptions{smtp_url, "Shop <billing@shop.example>", "", "", false, std::chrono::seconds(10),
                    std::chrono::seconds(2)},
        *t.clock));
    return std::make_unique<Notifier>(app->database(), *t.clock, app->ids(), *email_senders.back(), log_sms,
                                      NotifierOptions{"https://shop.example/update-payment"});
  }

  std::string enqueue(Notifier& n, const Message& m) {
    auto id = db::transact(t.app->database(), [&](db::Tx& tx) { return n.enqueue(tx, m); });
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? *id : "";
  }

  DispatchReport dispatch(Notifier& n) {
    auto report = n.dispatch_due();
    EXPECT_TRUE(report.ok()) << report.error().message;
    return report.ok() ? *report : DispatchReport{};
  }

  static inline testing::SmtpServer* smtp = nullptr;
  testing::TestApp t;
  LogSmsSender log_sms;
  std::vector<std::unique_ptr<EmailSender>> email_senders;
};

TEST_F(NotifyTest, CommittedEmailArrivesWithBothPartsAndIsRecordedSent) {
  auto n = notifier(smtp->url());
  auto id = enqueue(*n, receipt());
  EXPECT_EQ(n->get(id)->status, DeliveryStatus::kQueued);

  auto report = dispatch(*n);
  EXPECT_EQ(report.sent, 1);
  auto mails = mails_for(*smtp, id);
  ASSERT_EQ(mails.size(), 1u);
  const Mail& m = mails[0];
  EXPECT_EQ(m.header("To"), "ada@example.com");
  EXPECT_EQ(m.header("From"), "Shop <billing@shop.example>");
  EXPECT_EQ(m.header("Subject"), "Your receipt: $24.00 for Coffee box");
  EXPECT_EQ(m.header("Date"), "Sun, 01 Feb 2026 10:00:00 +0000");
  EXPECT_EQ(m.header("X-MailFrom"), "billing@shop.example");
  EXPECT_EQ(m.header("X-RcptTo"), "ada@example.com");
  EXPECT_NE(m.header("Content-Type").find("multipart/alternative"), std::string::npos);
  EXPECT_NE(m.part("text/plain").find("Hi Ada <Lovelace>,\n\nThank you for your payment of $24.00"), std::string::npos)
      << m.part("text/plain");
  EXPECT_NE(m.part("text/html").find("<p>Hi Ada &lt;Lovelace&gt;,</p>"), std::string::npos) << m.part("text/html");

  auto record = *n->get(id);
  EXPECT_EQ(record.status, DeliveryStatus::kSent);
  EXPECT_EQ(record.attempts, 1);
  EXPECT_EQ(record.sent_at, at("2026-02-01T10:00:00Z"));
  EXPECT_EQ(record.next_attempt_at, std::nullopt);
  EXPECT_EQ(record.last_error, std::nullopt);
  EXPECT_EQ(dispatch(*n).sent, 0);  // nothing due any more
}

// Makes attachments from a table; a missing one fails with `failure`.
class TableAttachments final : public AttachmentSource {
 public:
  std::map<std::string, EmailAttachment> files;
  Error failure = Error::unavailable("pdf_render_failed", "the font is gone");
  int asked = 0;
  Result<EmailAttachment> attachment(const AttachmentRef& ref) override {
    ++asked;
    auto it = files.find(ref.kind + "/" + ref.id);
    if (it == files.end()) return failure;
    return it->second;
  }
};

TEST_F(NotifyTest, AttachmentIsMadeWhenSentAndArrivesAsAFilePart) {
  auto n = notifier(smtp->url());
  TableAttachments source;
  std::string pdf = std::string("%PDF-1.3\n") + std::string(3000, '\xfe') + "%%EOF";
  source.files["invoice_pdf/in_0001"] = {"invoice-INV-000001.pdf", "application/pdf", pdf};
  n->set_attachment_source(source);
  Message m = receipt();
  m.attachments = {{"invoice_pdf", "in_0001"}};
  auto id = enqueue(*n, m);
  EXPECT_EQ(source.asked, 0);  // nothing is made when queued
  EXPECT_EQ(n->get(id)->attachments, m.attachments);
  EXPECT_EQ(dispatch(*n).sent, 1);
  EXPECT_EQ(source.asked, 1);
  auto mails = mails_for(*smtp, id);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_NE(mails[0].header("Content-Type").find("multipart/mixed"), std::string::npos) << mails[0].raw;
  EXPECT_NE(mails[0].raw.find("Content-Disposition: attachment; filename=\"invoice-INV-000001.pdf\""),
            std::string::npos);
  EXPECT_EQ(mails[0].part("application/pdf"), pdf);
  EXPECT_NE(mails[0].part("text/plain").find("Thank you for your payment"), std::string::npos);
}

TEST_F(NotifyTest, AnAttachmentThatCannotBeMadeIsRetriedOrGivenUpByItsKind) {
  auto n = notifier(smtp->url());
  TableAttachments source;
  n->set_attachment_source(source);
  Message m = receipt();
  m.attachments = {{"invoice_pdf", "in_missing"}};
  auto retried = enqueue(*n, m);
  EXPECT_EQ(dispatch(*n).failed, 1);
  auto record = *n->get(retried);
  EXPECT_EQ(record.status, DeliveryStatus::kFailed);
  EXPECT_NE(record.last_error->find("attachment"), std::string::npos);
  EXPECT_TRUE(mails_for(*smtp, retried).empty());  // never sent without its file

  source.failure = Error::not_found("invoice_not_found", "no invoice");
  m.attachments = {{"invoice_pdf", "in_gone"}};
  auto gone = enqueue(*n, m);
  t.clock->advance(3600);
  dispatch(*n);
  EXPECT_EQ(n->get(gone)->status, DeliveryStatus::kDead);
  EXPECT_TRUE(mails_for(*smtp, gone).empty());
}

TEST_F(NotifyTest, AttachmentsAreRefusedOnSmsAndOfUnknownKinds) {
  auto n = notifier(smtp->url());
  Message sms = receipt();
  sms.channel = Channel::kSms;
  sms.to = "+14155550100";
  sms.attachments = {{"invoice_pdf", "in_1"}};
  Message odd = receipt();
  odd.attachments = {{"photo", "x"}};
  for (const auto& m : {sms, odd}) {
    auto id = db::transact(t.app->database(), [&](db::Tx& tx) { return n->enqueue(tx, m); });
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.error().code, "validation_failed");
  }
  // The SMS copy of an e-mail drops its files instead.
  Message with_file = receipt();
  with_file.template_name = "payment_failed";
  with_file.data["update_payment_token"] = "tok";
  with_file.data["retry_note"] = "We will try the payment again automatically.";
  with_file.data["retry_note_short"] = "We will retry;";
  with_file.attachments = {{"invoice_pdf", "in_1"}};
  auto copied = db::transact(t.app->database(), [&](db::Tx& tx) {
    return enqueue_sms_copy(*n, tx, with_file, std::string("+14155550100"));
  });
  ASSERT_TRUE(copied.ok()) << copied.error().message;
  EXPECT_TRUE(n->get(*copied)->attachments.empty());
}

TEST_F(NotifyTest, MessageWhoseTransactionRollsBackIsNeverSent) {
  auto n = notifier(smtp->url());
  std::string rolled_back;
  auto billing = db::transact(t.app->database(), [&](db::Tx& tx) -> Result<std::string> {
    RECUR_ASSIGN(rolled_back, n->enqueue(tx, receipt()));
    return Error::conflict("charge_failed", "billing gave up after enqueueing");
  });
  ASSERT_FALSE(billing.ok());
  ASSERT_FALSE(rolled_back.empty());
  auto report = dispatch(*n);
  EXPECT_EQ(report.sent + report.failed + report.dead, 0);
  EXPECT_EQ(n->get(rolled_back).error().code, "notification_not_found");
  EXPECT_TRUE(mails_for(*smtp, rolled_back).empty());
}

TEST_F(NotifyTest, RefusedEnqueueLeavesTheCallersTransactionUsable) {
  auto n = notifier(smtp->url());
  auto committed = db::transact(t.app->database(), [&](db::Tx& tx) -> Result<std::string> {
    Message missing = receipt();
    missing.data.erase("amount");
    auto refused = n->enqueue(tx, missing);
    EXPECT_EQ(refused.error().code, "template_data_missing");
    Message bad_to = receipt("not an address");
    EXPECT_EQ(n->enqueue(tx, bad_to).error().kind, ErrorKind::kInvalid);
    Message unknown = receipt();
    unknown.template_name = "nope";
    EXPECT_EQ(n->enqueue(tx, unknown).error().kind, ErrorKind::kInvalid);
    return n->enqueue(tx, receipt());  // the same transaction goes on (PostgreSQL too)
  });
  ASSERT_TRUE(committed.ok()) << committed.error().message;
  EXPECT_EQ(dispatch(*n).sent, 1);
}

TEST_F(NotifyTest, SmtpDownFailsWithBackoffThenSendsOnceWhenTheServerIsBack) {
  int port = testing::free_port();
  auto n = notifier("smtp://127.0.0.1:" + std::to_string(port));
  auto id = enqueue(*n, receipt());

  auto first = dispatch(*n);
  EXPECT_EQ(first.failed, 1);
  auto record = *n->get(id);
  EXPECT_EQ(record.status, DeliveryStatus::kFailed);
  EXPECT_EQ(record.attempts, 1);
  EXPECT_EQ(record.next_attempt_at, at("2026-02-01T10:01:00Z"));
  ASSERT_TRUE(record.last_error.has_value());
  EXPECT_NE(record.last_error->find("SMTP delivery to ada@example.com failed"), std::string::npos) << *record.last_error;

  testing::SmtpServer back(port);
  t.clock->advance(59);
  EXPECT_EQ(dispatch(*n).sent, 0);  // not due yet
  t.clock->advance(1);
  EXPECT_EQ(dispatch(*n).sent, 1);
  t.clock->advance(3600);
  EXPECT_EQ(dispatch(*n).sent, 0);
  EXPECT_EQ(mails_for(back, id).size(), 1u);
  record = *n->get(id);
  EXPECT_EQ(record.status, DeliveryStatus::kSent);
  EXPECT_EQ(record.attempts, 2);
  EXPECT_EQ(record.sent_at, at("2026-02-01T10:01:00Z"));
}

TEST_F(NotifyTest, GivesUpAfterTheLastBackoffStepAsDead) {
  auto n = notifier("smtp://127.0.0.1:" + std::to_string(testing::free_port()));
  auto id = enqueue(*n, receipt());
  for (std::int64_t attempt = 1; attempt < kMaxAttempts; ++attempt) {
    EXPECT_EQ(dispatch(*n).failed, 1) << attempt;
    EXPECT_EQ(n->get(id)->next_attempt_at, t.clock->now() + *retry_delay(attempt));
    t.clock->advance(*retry_delay(attempt));
  }
  EXPECT_EQ(dispatch(*n).dead, 1);
  auto record = *n->get(id);
  EXPECT_EQ(record.status, DeliveryStatus::kDead);
  EXPECT_EQ(record.attempts, kMaxAttempts);
  EXPECT_EQ(record.next_attempt_at, std::nullopt);
  t.clock->advance(7 * kSecondsPerDay);
  auto later = dispatch(*n);
  EXPECT_EQ(later.sent + later.failed + later.dead, 0);
}

TEST_F(NotifyTest, TwoDispatchersOnTwoNodesSendEachMessageOnce) {
  auto node2 = testing::reopen(t, *t.clock);
  auto a = notifier(smtp->url());
  auto b = notifier(smtp->url(), node2.get());
  std::vector<std::string> ids;
  for (int i = 0; i < 16; ++i) ids.push_back(enqueue(*a, receipt("customer" + std::to_string(i) + "@example.com")));

  std::barrier start(2);
  std::atomic<int> sent{0};
  auto run = [&](Notifier& n) {
    start.arrive_and_wait();
    auto report = n.dispatch_due();
    EXPECT_TRUE(report.ok()) << report.error().message;
    if (report.ok()) sent += report->sent;
  };
  std::thread first(run, std::ref(*a));
  std::thread second(run, std::ref(*b));
  first.join();
  second.join();

  EXPECT_EQ(sent.load(), 16);
  for (const auto& id : ids) {
    EXPECT_EQ(mails_for(*smtp, id).size(), 1u) << id;
    auto record = *a->get(id);
    EXPECT_EQ(record.status, DeliveryStatus::kSent);
    EXPECT_EQ(record.attempts, 1);
  }
}

TEST_F(NotifyTest, SmsPostsTheFormWithBasicAuthAndTheRecordHidesThePaymentToken) {
  SmsSink sink(201);
  HttpSmsSender sms(HttpSmsOptions{sink.url(), "AC1", "s3cret", "+15005550006"});
  Notifier n(t.app->database(), *t.clock, t.app->ids(), *email_senders.emplace_back(new LogEmailSender), sms,
             NotifierOptions{"https://shop.example/update-payment"});
  Message m;
  m.channel = Channel::kSms;
  m.template_name = "card_expiring";  // the one text with an update-payment link
  m.to = "+14155550123";
  m.data = {{"card_brand", "visa"}, {"card_last4", "4242"}, {"expiry", "03/2026"}, {"update_payment_token", "tok_abc"}};
  auto id = enqueue(n, m);

  EXPECT_EQ(dispatch(n).sent, 1);
  auto requests = sink.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]["path"], "/2010-04-01/Accounts/AC1/Messages.json");
  EXPECT_EQ(requests[0]["authorization"], "Basic " + base64("AC1:s3cret"));
  EXPECT_EQ(requests[0]["content_type"], "application/x-www-form-urlencoded");
  EXPECT_EQ(requests[0]["body"],
            "To=%2B14155550123&From=%2B15005550006&Body=" +
                net::url_encode("Your visa card ending in 4242 expires 03/2026. Update it: "
                                "https://shop.example/update-payment?token=tok_abc"));
  auto record = *n.get(id);
  EXPECT_EQ(record.status, DeliveryStatus::kSent);
  EXPECT_EQ(record.subject, std::nullopt);
  EXPECT_EQ(record.text.find("tok_abc"), std::string::npos) << record.text;  // scrubbed once sent
}

TEST_F(NotifyTest, SmsRefusedByTheProviderIsDeadWithoutRetryAndA503IsRetried) {
  SmsSink refusing(400);
  SmsSink down(503);
  HttpSmsSender refused_sender(HttpSmsOptions{refusing.url(), "AC1", "t", "+15005550006"});
  HttpSmsSender retry_sender(HttpSmsOptions{down.url(), "AC1", "t", "+15005550006"});
  LogEmailSender log_email;
  Notifier refused_n(t.app->database(), *t.clock, t.app->ids(), log_email, refused_sender);
  Message m;
  m.channel = Channel::kSms;
  m.template_name = "inventory_low";
  m.to = "+14155550123";
  m.data = {{"product_name", "Beans"}, {"sku", "B-1"}, {"available", 3}};
  auto refused_id = enqueue(refused_n, m);
  EXPECT_EQ(dispatch(refused_n).dead, 1);
  auto record = *refused_n.get(refused_id);
  EXPECT_EQ(record.status, DeliveryStatus::kDead);
  EXPECT_NE(record.last_error->find("400"), std::string::npos);

  Notifier retry_n(t.app->database(), *t.clock, t.app->ids(), log_email, retry_sender);
  auto retried_id = enqueue(retry_n, m);
  EXPECT_EQ(dispatch(retry_n).failed, 1);
  EXPECT_EQ(retry_n.get(retried_id)->status, DeliveryStatus::kFailed);
  EXPECT_EQ(down.requests().size(), 1u);
}

TEST_F(NotifyTest, ListFiltersByCustomerStatusTemplateAndResourceAndPagesNewestFirst) {
  auto n = notifier(smtp->url());
  auto a = receipt();
  auto b = receipt();
  b.customer = "cus_2";
  b.resource = "in_0002";
  auto c = receipt();
  c.template_name = "renewal_reminder";
  c.data = {{"customer_name", "Ada"}, {"plan_name", "Coffee"}, {"renewal_date", "2026-03-01"}, {"amount", "$24.00"}};
  c.send_at = at("2026-02-20T10:00:00Z");  // not due yet: stays queued
  auto id_a = enqueue(*n, a);
  auto id_b = enqueue(*n, b);
  auto id_c = enqueue(*n, c);
  EXPECT_EQ(dispatch(*n).sent, 2);

  auto ids = [&](ListFilter f) {
    std::vector<std::string> out;
    auto page = n->list(f);
    EXPECT_TRUE(page.ok());
    for (const auto& item : page->items) out.push_back(item.id);
    return out;
  };
  EXPECT_EQ(ids({.customer = "cus_1"}), (std::vector<std::string>{id_c, id_a}));
  EXPECT_EQ(ids({.statuses = {"queued"}}), (std::vector<std::string>{id_c}));
  EXPECT_EQ(ids({.statuses = {"queued", "sent"}}), (std::vector<std::string>{id_c, id_b, id_a}));
  EXPECT_EQ(ids({.template_name = "receipt"}), (std::vector<std::string>{id_b, id_a}));
  EXPECT_EQ(ids({.resource = "in_0002"}), (std::vector<std::string>{id_b}));
  auto first = n->list({.page = {.limit = 2}});
  EXPECT_TRUE(first->has_more);
  EXPECT_EQ(ids({.page = {.limit = 2, .starting_after = first->items.back().id}}), (std::vector<std::string>{id_a}));
  // Back from the last item: the page before it, still newest first.
  EXPECT_EQ(ids({.page = {.limit = 2, .ending_before = id_a}}), (std::vector<std::string>{id_c, id_b}));
  EXPECT_EQ(ids({.page = {.limit = 1, .ending_before = id_a}}), (std::vector<std::string>{id_b}));
}

TEST_F(NotifyTest, ListFiltersByChannel) {
  auto n = notifier(smtp->url());
  auto mail = enqueue(*n, receipt());
  Message text = receipt("+14155550123");
  text.channel = Channel::kSms;
  auto sms = enqueue(*n, text);
  auto ids = [&](std::vector<std::string> channels) {
    std::vector<std::string> out;
    auto page = n->list({.channels = std::move(channels)});
    EXPECT_TRUE(page.ok());
    for (const auto& item : page->items) out.push_back(item.id);
    return out;
  };
  EXPECT_EQ(ids({"sms"}), (std::vector<std::string>{sms}));
  EXPECT_EQ(ids({"email"}), (std::vector<std::string>{mail}));
  EXPECT_EQ(ids({"email", "sms"}), (std::vector<std::string>{sms, mail}));
  EXPECT_EQ(ids({}), (std::vector<std::string>{sms, mail}));
}

TEST_F(NotifyTest, RoutesNeedNotificationsReadAndShowTheRecord) {
  auto id = enqueue(t.app->notifications(), receipt());
  auto analyst = *t.app->keys().create("analyst");
  auto inventory = *t.app->keys().create("inventory");
  auto get = [&](const std::string& path, const std::string& key, std::multimap<std::string, std::string> query = {}) {
    http::Request req;
    req.method = "GET";
    req.path = path;
    req.query = std::move(query);
    req.headers = {{"authorization", "Bearer " + key}};
    return t.app->pipeline().handle(req);
  };
  auto one = get("/v1/notifications/" + id, analyst.secret);
  ASSERT_EQ(one.status, 200) << one.body;
  auto body = Json::parse(one.body);
  EXPECT_EQ(body["object"], "notification");
  EXPECT_EQ(body["status"], "queued");
  EXPECT_EQ(body["template"], "receipt");
  EXPECT_FALSE(body.contains("secrets"));
  EXPECT_EQ(get("/v1/notifications/" + id, inventory.secret).status, 403);
  EXPECT_EQ(get("/v1/notifications/ntf_nope", analyst.secret).status, 404);
  EXPECT_EQ(get("/v1/notifications", analyst.secret, {{"status", "lost"}}).status, 422);
  EXPECT_EQ(get("/v1/notifications", analyst.secret, {{"channel", "fax"}}).status, 422);
  EXPECT_EQ(Json::parse(get("/v1/notifications", analyst.secret, {{"channel", "sms"}}).body)["data"].size(), 0u);
  EXPECT_EQ(Json::parse(get("/v1/notifications", analyst.secret, {{"channel", "email"}}).body)["data"].size(), 1u);
  auto list = get("/v1/notifications", analyst.secret, {{"customer", "cus_1"}});
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(Json::parse(list.body)["data"].size(), 1u);
}

// Captures what spdlog's default logger writes while it lives.
using testing::CapturedLog;

TEST_F(NotifyTest, LogSendersWriteTheTemplateTheIdAndAMaskedRecipientButNoPersonalData) {
  LogEmailSender log_email;
  LogSmsSender sms_log;
  Notifier n(t.app->database(), *t.clock, t.app->ids(), log_email, sms_log,
             NotifierOptions{"https://shop.example/update-payment"});
  Message mail = receipt("jane.doe@example.com");
  mail.data["customer_name"] = "Jane Doe";
  mail.data["amount"] = "$71.39";
  auto mail_id = enqueue(n, mail);
  Message sms;
  sms.channel = Channel::kSms;
  sms.template_name = "card_expiring";
  sms.to = "+14155550123";
  sms.data = {{"card_brand", "amex"}, {"card_last4", "8431"}, {"expiry", "03/2026"},
              {"update_payment_token", "tok_abc"}};
  auto sms_id = enqueue(n, sms);

  CapturedLog log;
  EXPECT_EQ(dispatch(n).sent, 2);
  std::string text = log.text();
  EXPECT_NE(text.find(mail_id), std::string::npos) << text;
  EXPECT_NE(text.find("receipt"), std::string::npos) << text;
  EXPECT_NE(text.find("j***@e***.com"), std::string::npos) << text;
  EXPECT_NE(text.find(sms_id), std::string::npos) << text;
  EXPECT_NE(text.find("card_expiring"), std::string::npos) << text;
  EXPECT_NE(text.find("***23"), std::string::npos) << text;
  for (const char* personal : {"jane.doe", "example.com", "Jane", "Doe", "$71.39", "Coffee box", "amex", "8431",
                               "tok_abc", "4155550123", "Your receipt", "Thank you", "expires"})
    EXPECT_EQ(text.find(personal), std::string::npos) << personal << " in the log:\n" << text;
}

}  // namespace
}  // namespace recur::notify

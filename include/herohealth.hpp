/*
 * herohealth.hpp: a header-only C++17 layer over herohealth.h.
 *
 * RAII handles (move-only) free themselves with the matching hero_*_free;
 * no exceptions are thrown or needed (builds with -fno-exceptions). Every
 * rule lives in the library: this header only converts types and owns
 * handles, so each call here maps to one C call documented in herohealth.h.
 *
 *   hero::Config config = hero::Config::custom("http://127.0.0.1:8080", key, group);
 *   config.deadline_ms(10000);
 *   hero::Result<hero::Client> client = hero::Client::create(config);
 *   if (!client) { std::fprintf(stderr, "%s\n", client.message()); return 1; }
 *   hero::Message msg("4242", HERO_MESSAGE_TYPE_SMS, "Your flu jab is due.");
 *   msg.recipient_contact_detail("07700 900123").write_to_record(true);
 *   hero::Result<hero::Response> sent = client.value().send(msg);
 *   switch (sent.status()) {
 *   case HERO_OK: std::puts(sent.value().message_id()); break;
 *   case HERO_MAY_HAVE_BEEN_SENT:   // check in Hero before resending
 *   ...
 *   }
 *
 * Strings in are std::string_view; the C API takes NUL-terminated strings,
 * so each is copied into a std::string for the call (the library copies it
 * again and the caller keeps ownership, as in C). A view holding a NUL
 * character cannot be passed to C without cutting it short, so it is
 * refused with HERO_INVALID_ARGUMENT and nothing is changed or sent.
 *
 * Strings out are borrowed exactly as in C: `const char *` (NULL where the
 * C function may return NULL) or std::string_view, valid until the object
 * they came from (Response, Error) is destroyed or moved from.
 *
 * Builders (Config, Message) keep the first failing status of their setters;
 * Client::create and Client::send then return that status without calling
 * the library, so a setter that failed can never let a message go out
 * without the field it was meant to set.
 *
 * Thread rules are C's: a Client may be shared by any number of threads;
 * a Config or Message is used by one thread at a time; Response and Error
 * are immutable.
 */
#ifndef HEROHEALTH_HPP
#define HEROHEALTH_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "herohealth.h"

namespace hero {

namespace detail {

// unique_ptr deleter calling the library's own free function.
template <typename T, void (*Free)(T *)>
struct Deleter {
    void operator()(T *p) const noexcept { Free(p); }
};

template <typename T, void (*Free)(T *)>
using Handle = std::unique_ptr<T, Deleter<T, Free>>;

// A NUL-terminated copy of a view, or nothing when the view holds a NUL
// (C would read it cut short).
class CString {
  public:
    explicit CString(std::string_view s) : copy_(s), ok_(s.find('\0') == std::string_view::npos) {}
    bool ok() const noexcept { return ok_; }
    const char *get() const noexcept { return copy_.c_str(); }

  private:
    std::string copy_;
    bool ok_;
};

// Receives a T* from a C out-parameter and hands it to a Handle.
template <typename H>
class Out {
  public:
    explicit Out(H &owner) noexcept : owner_(owner) {}
    ~Out() { owner_.reset(raw_); }
    Out(const Out &) = delete;
    Out &operator=(const Out &) = delete;
    operator typename H::pointer *() noexcept { return &raw_; }

  private:
    H &owner_;
    typename H::pointer raw_ = nullptr;
};

template <typename H>
Out<H> out(H &owner) noexcept {
    return Out<H>(owner);
}

}  // namespace detail

class Client;
class Journal;
class BatchOptions;
class Summary;
template <typename T>
class Result;
template <typename F>
Result<Summary> run_batch(const Client &client, const Journal *journal, std::string_view path,
                          const BatchOptions &options, F &&on_row);

// The library version, e.g. "0.1.0" (hero_version).
inline std::string_view version() noexcept { return hero_version(); }

// A short static text for a status (hero_status_text).
inline const char *status_text(hero_status status) noexcept {
    return hero_status_text(static_cast<int32_t>(status));
}

// A command-line tool's exit code for a call's status and error (see
// hero_exit_code); `error` may be NULL.
inline int exit_code(hero_status status, const hero_error *error) noexcept {
    return hero_exit_code(static_cast<uint32_t>(status), error);
}

// A view of a borrowed C string; empty for NULL.
inline std::string_view view(const char *s) noexcept { return s ? std::string_view(s) : std::string_view(); }

// Details of a failure (hero_error). Empty when the call failed without
// one (misuse such as HERO_NULL_ARGUMENT, or a builder's own status):
// then every accessor returns its "no error" value, as the C functions do
// for NULL.
class Error {
  public:
    Error() noexcept = default;
    explicit Error(hero_error *raw) noexcept : handle_(raw) {}

    explicit operator bool() const noexcept { return handle_ != nullptr; }
    const hero_error *get() const noexcept { return handle_.get(); }

    // HERO_NOT_SENT, HERO_REFUSED, HERO_MAY_HAVE_BEEN_SENT or
    // HERO_ACCEPTED_ID_UNKNOWN; HERO_NULL_ARGUMENT when empty.
    hero_status status() const noexcept { return hero_error_status(get()); }
    hero_kind kind() const noexcept { return hero_error_kind(get()); }
    // One line of English; NULL when empty. Borrowed from this Error.
    const char *message() const noexcept { return hero_error_message(get()); }
    // The offending field's JSON name (invalid input, or the field a
    // server's refusal names), else NULL.
    const char *field() const noexcept { return hero_error_field(get()); }
    // The server's own short reason from its error body, else NULL. May
    // quote patient data: for the operator, not for shared logs.
    const char *server_message() const noexcept { return hero_error_server_message(get()); }
    uint16_t http_status() const noexcept { return hero_error_http_status(get()); }
    // -1 when the server sent no Retry-After.
    int64_t retry_after_ms() const noexcept { return hero_error_retry_after_ms(get()); }
    uint32_t attempts() const noexcept { return hero_error_attempts(get()); }
    // hero_error_timing_us: microseconds to the end of a HERO_TIMING_* phase; 0 when empty.
    uint64_t timing_us(hero_timing which) const noexcept { return hero_error_timing_us(get(), which); }
    // The raw response body (may hold patient data); empty when none.
    std::string_view body() const noexcept {
        size_t len = 0;
        const uint8_t *bytes = hero_error_body(get(), &len);
        return bytes ? std::string_view(reinterpret_cast<const char *>(bytes), len) : std::string_view();
    }

  private:
    friend class Client;
    friend class Config;
    friend class Journal;
    template <typename F>
    friend Result<Summary> run_batch(const Client &, const Journal *, std::string_view, const BatchOptions &, F &&);
    detail::Handle<hero_error, hero_error_free> handle_;
};

// A call's status and, on failure, its Error.
class Outcome {
  public:
    explicit Outcome(hero_status status, Error error = Error()) noexcept
        : status_(status), error_(std::move(error)) {}

    hero_status status() const noexcept { return status_; }
    bool ok() const noexcept { return status_ == HERO_OK; }
    explicit operator bool() const noexcept { return ok(); }
    const Error &error() const noexcept { return error_; }
    // The error's message, or the status text when there is no Error.
    // Never NULL; borrowed from this object (or static).
    const char *message() const noexcept { return error_ ? error_.message() : status_text(status_); }

  private:
    hero_status status_;
    Error error_;
};

// An Outcome that carries a value (a Client, a Config, a Response) on
// HERO_OK. value() on a failed result is an empty handle.
template <typename T>
class Result : public Outcome {
  public:
    Result(hero_status status, T value, Error error = Error()) noexcept
        : Outcome(status, std::move(error)), value_(std::move(value)) {}

    T &value() & noexcept { return value_; }
    const T &value() const & noexcept { return value_; }
    T &&value() && noexcept { return std::move(value_); }

  private:
    T value_;
};

// An accepted message's reply (hero_response). Strings are borrowed from
// this object; NULL where the field was absent.
class Response {
  public:
    Response() noexcept = default;
    explicit Response(hero_response *raw) noexcept : handle_(raw) {}

    explicit operator bool() const noexcept { return handle_ != nullptr; }
    const hero_response *get() const noexcept { return handle_.get(); }

    const char *message_id() const noexcept { return hero_response_message_id(get()); }
    const char *content() const noexcept { return hero_response_content(get()); }
    const char *created_at() const noexcept { return hero_response_created_at(get()); }
    const char *snomed_code() const noexcept { return hero_response_snomed_code(get()); }
    const char *auth_token() const noexcept { return hero_response_auth_token(get()); }
    const char *confirm_write_to_record_url() const noexcept {
        return hero_response_confirm_write_to_record_url(get());
    }
    const char *submitted_by() const noexcept { return hero_response_submitted_by(get()); }
    const char *send_at() const noexcept { return hero_response_send_at(get()); }
    // 1 true, 0 false, -1 absent.
    int32_t write_to_record() const noexcept { return hero_response_write_to_record(get()); }
    // All 9 fields as one JSON object; empty for an empty Response.
    std::string_view json() const noexcept { return view(hero_response_json(get())); }
    // hero_response_timing_us: microseconds to the end of a HERO_TIMING_* phase.
    uint64_t timing_us(hero_timing which) const noexcept { return hero_response_timing_us(get(), which); }
    bool connection_reused() const noexcept { return hero_response_connection_reused(get()) != 0; }
    uint32_t attempts() const noexcept { return hero_response_attempts(get()); }

  private:
    friend class Client;
    detail::Handle<hero_response, hero_response_free> handle_;
};

// Builders share this: the first failing status is kept and later calls
// are skipped, so a half-applied builder never reaches the library.
class Builder {
  public:
    hero_status status() const noexcept { return status_; }
    bool ok() const noexcept { return status_ == HERO_OK; }

  protected:
    Builder() noexcept = default;
    explicit Builder(hero_status status) noexcept : status_(status) {}

    // Calls f(raw, args...) unless an earlier step failed.
    template <typename Raw, typename F, typename... A>
    void step(Raw *raw, F f, A... args) noexcept {
        if (status_ == HERO_OK) status_ = f(raw, args...);
    }
    // The same for one string argument.
    template <typename Raw, typename F>
    void step_text(Raw *raw, F f, std::string_view text) {
        if (status_ != HERO_OK) return;
        detail::CString c(text);
        status_ = c.ok() ? f(raw, c.get()) : HERO_INVALID_ARGUMENT;
    }

    hero_status status_ = HERO_OK;
};

// Client settings (hero_config).
class Config : public Builder {
  public:
    // HERO_TARGET_PRODUCTION: real patients.
    static Config production(std::string_view api_key, std::string_view practice_group_id) {
        return Config(HERO_TARGET_PRODUCTION, nullptr, api_key, practice_group_id);
    }
    static Config staging(std::string_view api_key, std::string_view practice_group_id) {
        return Config(HERO_TARGET_STAGING, nullptr, api_key, practice_group_id);
    }
    // HERO_TARGET_CUSTOM: https, or http for loopback (the mock).
    static Config custom(std::string_view base_url, std::string_view api_key,
                         std::string_view practice_group_id) {
        return Config(HERO_TARGET_CUSTOM, &base_url, api_key, practice_group_id);
    }
    // hero_config_new_from_env: HERO_API_KEY, HERO_PRACTICE_GROUP_ID,
    // HERO_BASE_URL or HERO_ENVIRONMENT, HERO_CA_FILE.
    static Result<Config> from_env() {
        Config config;
        Error error;
        hero_status status = hero_config_new_from_env(detail::out(config.handle_), detail::out(error.handle_));
        config.status_ = status;
        return Result<Config>(status, std::move(config), std::move(error));
    }

    Config &connect_timeout_ms(uint32_t ms) { return apply(hero_config_set_connect_timeout_ms, ms); }
    Config &deadline_ms(uint32_t ms) { return apply(hero_config_set_deadline_ms, ms); }
    Config &max_attempts(uint32_t attempts) { return apply(hero_config_set_max_attempts, attempts); }
    Config &max_retry_wait_ms(uint32_t ms) { return apply(hero_config_set_max_retry_wait_ms, ms); }
    Config &max_idle_age_ms(uint32_t ms) { return apply(hero_config_set_max_idle_age_ms, ms); }
    // Paces request starts across all threads; 0 turns pacing off.
    Config &max_sends_per_second(double per_second) {
        return apply(hero_config_set_max_sends_per_second, per_second);
    }
    Config &strict_checks(bool on) { return apply(hero_config_set_strict_checks, on); }
    Config &user_agent_suffix(std::string_view s) { return apply_text(hero_config_set_user_agent_suffix, s); }
    Config &ca_file(std::string_view path) { return apply_text(hero_config_set_ca_file, path); }
    Config &proxy(std::string_view url) { return apply_text(hero_config_set_proxy, url); }
    // callback and user_data must outlive every client made from this config.
    Config &log_callback(hero_log_callback callback, void *user_data) {
        return apply(hero_config_set_log_callback, callback, user_data);
    }

    const hero_config *get() const noexcept { return handle_.get(); }

  private:
    Config() noexcept = default;
    Config(hero_target target, const std::string_view *base_url, std::string_view api_key,
           std::string_view practice_group_id) {
        detail::CString key(api_key), group(practice_group_id), url(base_url ? *base_url : std::string_view());
        if (!key.ok() || !group.ok() || !url.ok()) {
            status_ = HERO_INVALID_ARGUMENT;
            return;
        }
        status_ = hero_config_new(target, base_url ? url.get() : nullptr, key.get(), group.get(),
                                  detail::out(handle_));
    }

    template <typename F, typename... A>
    Config &apply(F f, A... args) {
        step(handle_.get(), f, args...);
        return *this;
    }
    template <typename F>
    Config &apply_text(F f, std::string_view text) {
        step_text(handle_.get(), f, text);
        return *this;
    }

    detail::Handle<hero_config, hero_config_free> handle_;
};

// A message being built (hero_message): the three required fields, then
// optional ones by chained setters. May be sent any number of times.
class Message : public Builder {
  public:
    Message(std::string_view patient_id, hero_message_type type, std::string_view message_string) {
        detail::CString id(patient_id), text(message_string);
        status_ = (id.ok() && text.ok()) ? hero_message_new(id.get(), type, text.get(), detail::out(handle_))
                                         : HERO_INVALID_ARGUMENT;
    }

    Message &recipient_contact_detail(std::string_view v) {
        return apply_text(hero_message_set_recipient_contact_detail, v);
    }
    Message &fallback_contact_detail(std::string_view v) {
        return apply_text(hero_message_set_fallback_contact_detail, v);
    }
    Message &snomed_code(std::string_view v) { return apply_text(hero_message_set_snomed_code, v); }
    Message &snomed_term(std::string_view v) { return apply_text(hero_message_set_snomed_term, v); }
    Message &task_id(std::string_view v) { return apply_text(hero_message_set_task_id, v); }
    Message &attachment_uuid(std::string_view v) { return apply_text(hero_message_set_attachment_uuid, v); }
    Message &short_link_id(std::string_view v) { return apply_text(hero_message_set_short_link_id, v); }
    Message &send_at(std::string_view v) { return apply_text(hero_message_set_send_at, v); }
    // `encrypted` as Hero's string form; encrypted(bool) for the boolean.
    Message &encrypted_text(std::string_view v) { return apply_text(hero_message_set_encrypted_text, v); }
    Message &encrypted(bool v) { return apply(hero_message_set_encrypted, v); }
    Message &write_to_record(bool v) { return apply(hero_message_set_write_to_record, v); }
    Message &auto_write_to_record(bool v) { return apply(hero_message_set_auto_write_to_record, v); }
    Message &fallback_message_type(hero_fallback_type v) { return apply(hero_message_set_fallback_message_type, v); }
    Message &assignee_id(int64_t v) { return apply(hero_message_set_assignee_id, v); }
    Message &assignee_type(hero_assignee_type v) { return apply(hero_message_set_assignee_type, v); }
    // Any optional field by its JSON name, from its text form (a batch
    // cell's rules); see hero_message_set_field.
    Message &field(std::string_view name, std::string_view value) {
        if (status_ != HERO_OK) return *this;
        detail::CString n(name), v(value);
        status_ = (n.ok() && v.ok()) ? hero_message_set_field(handle_.get(), n.get(), v.get(), nullptr)
                                     : HERO_INVALID_ARGUMENT;
        return *this;
    }

    const hero_message *get() const noexcept { return handle_.get(); }

  private:
    template <typename F, typename... A>
    Message &apply(F f, A... args) {
        step(handle_.get(), f, args...);
        return *this;
    }
    template <typename F>
    Message &apply_text(F f, std::string_view text) {
        step_text(handle_.get(), f, text);
        return *this;
    }

    detail::Handle<hero_message, hero_message_free> handle_;
};

// Names as Hero spells them ("sms", "AdminTeam"...) to the C values;
// HERO_INVALID_ARGUMENT (and `out` unchanged) for any other name.
inline hero_status message_type_from_name(std::string_view name, hero_message_type &out) {
    detail::CString c(name);
    return c.ok() ? hero_message_type_from_name(c.get(), &out) : HERO_INVALID_ARGUMENT;
}
inline hero_status fallback_type_from_name(std::string_view name, hero_fallback_type &out) {
    detail::CString c(name);
    return c.ok() ? hero_fallback_type_from_name(c.get(), &out) : HERO_INVALID_ARGUMENT;
}
inline hero_status assignee_type_from_name(std::string_view name, hero_assignee_type &out) {
    detail::CString c(name);
    return c.ok() ? hero_assignee_type_from_name(c.get(), &out) : HERO_INVALID_ARGUMENT;
}

// Who to look up (hero_patient_query): by NHS number and date of birth, or
// by forename, surname, date of birth and postcode. Rules are checked by
// the lookup, before anything is sent.
class PatientQuery : public Builder {
  public:
    static PatientQuery by_nhs_number(std::string_view nhs_number, std::string_view dob) {
        PatientQuery q;
        detail::CString n(nhs_number), d(dob);
        q.status_ = (n.ok() && d.ok()) ? hero_patient_query_new_nhs_number(n.get(), d.get(), detail::out(q.handle_))
                                       : HERO_INVALID_ARGUMENT;
        return q;
    }
    static PatientQuery by_demographics(std::string_view forename, std::string_view surname, std::string_view dob,
                                        std::string_view postcode) {
        PatientQuery q;
        detail::CString f(forename), s(surname), d(dob), p(postcode);
        q.status_ = (f.ok() && s.ok() && d.ok() && p.ok())
                        ? hero_patient_query_new_demographics(f.get(), s.get(), d.get(), p.get(),
                                                              detail::out(q.handle_))
                        : HERO_INVALID_ARGUMENT;
        return q;
    }

    PatientQuery &ehr_partner(std::string_view v) {
        step_text(handle_.get(), hero_patient_query_set_ehr_partner, v);
        return *this;
    }
    PatientQuery &ehr_partner_id(std::string_view v) {
        step_text(handle_.get(), hero_patient_query_set_ehr_partner_id, v);
        return *this;
    }

    const hero_patient_query *get() const noexcept { return handle_.get(); }

  private:
    PatientQuery() noexcept = default;
    detail::Handle<hero_patient_query, hero_patient_query_free> handle_;
};

// Hero's answer to a lookup (hero_patient): the patient's id, or identity
// verification required. Strings are borrowed from this object.
class Patient {
  public:
    Patient() noexcept = default;
    explicit operator bool() const noexcept { return handle_ != nullptr; }
    const hero_patient *get() const noexcept { return handle_.get(); }

    // HERO_PATIENT_FOUND or HERO_PATIENT_VERIFICATION_REQUIRED; 0 when empty.
    hero_patient_answer answer() const noexcept { return hero_patient_kind(get()); }
    // A command-line tool's exit code for this answer: 0 found, 8 verify
    // (hero_patient_exit_code); 2 when empty.
    int exit_code() const noexcept { return hero_patient_exit_code(get()); }
    // NULL unless found.
    const char *id() const noexcept { return hero_patient_id(get()); }
    // NULL unless verification is required; the link is for the patient only.
    const char *login_url() const noexcept { return hero_patient_login_url(get()); }
    const char *message() const noexcept { return hero_patient_message(get()); }
    // {"patient_id":"…"} or {"login_url":"…","message":"…"}; empty when empty.
    std::string_view json() const noexcept { return view(hero_patient_json(get())); }
    // hero_patient_timing_us: microseconds to the end of a HERO_TIMING_* phase
    // of the lookup (all 0 after find_and_send: the Response holds the times).
    uint64_t timing_us(hero_timing which) const noexcept { return hero_patient_timing_us(get(), which); }
    uint32_t attempts() const noexcept { return hero_patient_attempts(get()); }
    bool connection_reused() const noexcept { return hero_patient_connection_reused(get()) != 0; }

  private:
    friend class Client;
    detail::Handle<hero_patient, hero_patient_free> handle_;
};

// What Client::find_and_send gives: the answer, and the reply when the
// message was sent (an empty Response when the patient must verify).
struct FoundAndSent {
    Patient patient;
    Response response;
};

// Cancels sends and lookups in flight (hero_cancel): trigger() is safe in a signal
// handler or a console control handler, and stays triggered. Keep it
// alive until every send using it has returned.
class Cancel {
  public:
    Cancel() { status_ = hero_cancel_new(detail::out(handle_)); }
    hero_status status() const noexcept { return status_; }
    void trigger() const noexcept { hero_cancel_trigger(handle_.get()); }
    const hero_cancel *get() const noexcept { return handle_.get(); }

  private:
    hero_status status_;
    detail::Handle<hero_cancel, hero_cancel_free> handle_;
};

// A client (hero_client): thread-safe, share one.
class Client {
  public:
    Client() noexcept = default;

    // hero_client_new; a Config whose builder failed is returned as is.
    static Result<Client> create(const Config &config) {
        Client client;
        Error error;
        hero_status status = config.status();
        if (status == HERO_OK)
            status = hero_client_new(config.get(), detail::out(client.handle_), detail::out(error.handle_));
        return Result<Client>(status, std::move(client), std::move(error));
    }

    explicit operator bool() const noexcept { return handle_ != nullptr; }
    const hero_client *get() const noexcept { return handle_.get(); }

    // hero_client_send: the outcome, and the reply (HERO_OK) or the error.
    // A Message whose builder failed is not sent: its status comes back.
    Result<Response> send(const Message &message) const {
        Response response;
        Error error;
        hero_status status = message.status();
        if (status == HERO_OK)
            status = hero_client_send(get(), message.get(), detail::out(response.handle_), detail::out(error.handle_));
        return Result<Response>(status, std::move(response), std::move(error));
    }

    // hero_client_send_cancellable: as send(), ending promptly once
    // cancel is triggered (kind HERO_KIND_CANCELLED).
    Result<Response> send(const Message &message, const Cancel &cancel) const {
        Response response;
        Error error;
        hero_status status = message.status();
        if (status == HERO_OK)
            status = hero_client_send_cancellable(get(), message.get(), cancel.get(), detail::out(response.handle_),
                                                  detail::out(error.handle_));
        return Result<Response>(status, std::move(response), std::move(error));
    }

    // hero_client_check: every rule, nothing sent.
    Outcome check(const Message &message) const {
        Error error;
        hero_status status = message.status();
        if (status == HERO_OK) status = hero_client_check(get(), message.get(), detail::out(error.handle_));
        return Outcome(status, std::move(error));
    }

    // hero_client_find_patient: the answer (HERO_OK) or the error; never
    // HERO_MAY_HAVE_BEEN_SENT. A PatientQuery whose builder failed is not sent.
    Result<Patient> find_patient(const PatientQuery &query) const {
        Patient patient;
        Error error;
        hero_status status = query.status();
        if (status == HERO_OK)
            status = hero_client_find_patient(get(), query.get(), detail::out(patient.handle_),
                                              detail::out(error.handle_));
        return Result<Patient>(status, std::move(patient), std::move(error));
    }

    // hero_client_find_patient_cancellable: as find_patient(), ending
    // promptly once cancel is triggered (HERO_NOT_SENT, kind HERO_KIND_CANCELLED).
    Result<Patient> find_patient(const PatientQuery &query, const Cancel &cancel) const {
        Patient patient;
        Error error;
        hero_status status = query.status();
        if (status == HERO_OK)
            status = hero_client_find_patient_cancellable(get(), query.get(), cancel.get(),
                                                          detail::out(patient.handle_), detail::out(error.handle_));
        return Result<Patient>(status, std::move(patient), std::move(error));
    }

    // hero_client_find_and_send: lookup, then the send, in one deadline.
    // On failure, a set patient means the error is the send's.
    Result<FoundAndSent> find_and_send(const PatientQuery &query, const Message &message) const {
        FoundAndSent out;
        Error error;
        hero_status status = query.status() != HERO_OK ? query.status() : message.status();
        if (status == HERO_OK)
            status = hero_client_find_and_send(get(), query.get(), message.get(), detail::out(out.patient.handle_),
                                               detail::out(out.response.handle_), detail::out(error.handle_));
        return Result<FoundAndSent>(status, std::move(out), std::move(error));
    }

    // hero_client_find_and_send_cancellable: as find_and_send(), both parts
    // ending promptly once cancel is triggered.
    Result<FoundAndSent> find_and_send(const PatientQuery &query, const Message &message,
                                       const Cancel &cancel) const {
        FoundAndSent out;
        Error error;
        hero_status status = query.status() != HERO_OK ? query.status() : message.status();
        if (status == HERO_OK)
            status = hero_client_find_and_send_cancellable(
                get(), query.get(), message.get(), cancel.get(), detail::out(out.patient.handle_),
                detail::out(out.response.handle_), detail::out(error.handle_));
        return Result<FoundAndSent>(status, std::move(out), std::move(error));
    }

    uint64_t connections_opened() const noexcept { return hero_client_connections_opened(get()); }

  private:
    detail::Handle<hero_client, hero_client_free> handle_;
};

// ---------------------------------------------------------------------
// Batch sending and the send journal.
// ---------------------------------------------------------------------

// How one row (or one keyed send) ended, borrowed: inside a batch callback
// it is valid only during the call.
class RowView {
  public:
    explicit RowView(const hero_batch_row *row) noexcept : row_(row) {}
    hero_row_outcome outcome() const noexcept { return hero_batch_row_outcome(row_); }
    // NULL when the row was too broken to have a key.
    const char *key() const noexcept { return hero_batch_row_key(row_); }
    // NULL unless Hero's message id is known.
    const char *message_id() const noexcept { return hero_batch_row_message_id(row_); }
    // row, key, outcome, message_id, http_status, error.
    std::string_view json() const noexcept { return view(hero_batch_row_json(row_)); }
    const hero_batch_row *get() const noexcept { return row_; }

  private:
    const hero_batch_row *row_;
};

// An owned row report (from Journal::send).
class Row {
  public:
    Row() noexcept = default;
    explicit operator bool() const noexcept { return handle_ != nullptr; }
    RowView view() const noexcept { return RowView(handle_.get()); }

  private:
    friend class Journal;
    detail::Handle<hero_batch_row, hero_batch_row_free> handle_;
};

// Counts per outcome, borrowed: inside a batch callback, valid only during
// the call.
class SummaryView {
  public:
    explicit SummaryView(const hero_batch_summary *summary) noexcept : summary_(summary) {}
    hero_batch_class batch_class() const noexcept { return hero_batch_summary_class(summary_); }
    // A command-line tool's exit code for the finished batch (0, 6 or 9).
    int exit_code() const noexcept { return hero_batch_summary_exit_code(summary_); }
    uint64_t count(hero_row_outcome outcome) const noexcept { return hero_batch_summary_count(summary_, outcome); }
    std::string_view progress_line() const noexcept { return view(hero_batch_summary_progress_line(summary_)); }
    std::string_view line() const noexcept { return view(hero_batch_summary_line(summary_)); }
    // When only checking: how each column header was understood, one line each.
    std::string_view columns() const noexcept { return view(hero_batch_summary_columns(summary_)); }
    const hero_batch_summary *get() const noexcept { return summary_; }

  private:
    const hero_batch_summary *summary_;
};

// A finished batch's counts (owned).
class Summary {
  public:
    Summary() noexcept = default;
    explicit operator bool() const noexcept { return handle_ != nullptr; }
    SummaryView view() const noexcept { return SummaryView(handle_.get()); }

  private:
    template <typename F>
    friend Result<Summary> run_batch(const Client &, const Journal *, std::string_view, const BatchOptions &, F &&);
    detail::Handle<hero_batch_summary, hero_batch_summary_free> handle_;
};

// "sent" or "not-sent" to the C value (hero_resolution_from_name).
inline hero_status resolution_from_name(std::string_view name, hero_resolution &out) {
    detail::CString c(name);
    return c.ok() ? hero_resolution_from_name(c.get(), &out) : HERO_INVALID_ARGUMENT;
}

// The send journal (hero_journal): one process at a time; share it
// between threads.
class Journal {
  public:
    Journal() noexcept = default;

    static Result<Journal> open(std::string_view path) {
        Journal journal;
        Error error;
        detail::CString c(path);
        hero_status status = c.ok() ? hero_journal_open(c.get(), detail::out(journal.handle_), detail::out(error.handle_))
                                    : HERO_INVALID_ARGUMENT;
        return Result<Journal>(status, std::move(journal), std::move(error));
    }

    // A journal that must exist already, to read it back (pending,
    // resolve): a mistyped path is an error, never an empty journal.
    static Result<Journal> open_existing(std::string_view path) {
        Journal journal;
        Error error;
        detail::CString c(path);
        hero_status status = c.ok() ? hero_journal_open_existing(c.get(), detail::out(journal.handle_),
                                                                 detail::out(error.handle_))
                                    : HERO_INVALID_ARGUMENT;
        return Result<Journal>(status, std::move(journal), std::move(error));
    }

    // A journal, damaged or not, opened only to read it
    // (hero_journal_open_to_read): pending() lists what it shows, damage()
    // what open() refuses.
    static Result<Journal> open_to_read(std::string_view path) {
        Journal journal;
        Error error;
        detail::CString c(path);
        hero_status status = c.ok() ? hero_journal_open_to_read(c.get(), detail::out(journal.handle_),
                                                                detail::out(error.handle_))
                                    : HERO_INVALID_ARGUMENT;
        return Result<Journal>(status, std::move(journal), std::move(error));
    }

    // hero_journal_salvage: a new journal at new_path with every key not
    // proven sent flagged; the report says how many, and the damage's time
    // window (a key whose every record was lost cannot be named).
    static Result<hero_salvage_report> salvage(std::string_view damaged_path, std::string_view new_path) {
        return salvage_rows(damaged_path, new_path, nullptr, nullptr, nullptr);
    }
    // The same, also flagging every row of `rows` (read as run_batch reads
    // it) that no readable record names.
    static Result<hero_salvage_report> salvage(std::string_view damaged_path, std::string_view new_path,
                                               const Client &client, std::string_view rows,
                                               const BatchOptions &options);

    explicit operator bool() const noexcept { return handle_ != nullptr; }
    const hero_journal *get() const noexcept { return handle_.get(); }

    // hero_journal_damage: what damage a journal from open_to_read holds;
    // empty when whole.
    std::string damage() const {
        const char *d = hero_journal_damage(get());
        return d ? std::string(d) : std::string();
    }

    // hero_journal_send with the key derived from the request body. The
    // Row's outcome says what happened; a failed builder's status comes
    // back without a send.
    Result<Row> send(const Client &client, const Message &message) const;
    // hero_journal_send with the caller's key.
    Result<Row> send(const Client &client, std::string_view key, const Message &message) const;

    // The flagged keys as JSON lines (hero_journal_pending), copied.
    Result<std::string> pending() const {
        char *lines = nullptr;
        hero_status status = hero_journal_pending(get(), &lines);
        std::string copy = lines ? std::string(lines) : std::string();
        hero_string_free(lines);
        return Result<std::string>(status, std::move(copy));
    }

    // hero_journal_resolve: HERO_RESOLUTION_SENT or HERO_RESOLUTION_NOT_SENT.
    Outcome resolve(std::string_view key, hero_resolution resolution) const {
        Error error;
        detail::CString c(key);
        hero_status status = c.ok() ? hero_journal_resolve(get(), c.get(), resolution, detail::out(error.handle_))
                                    : HERO_INVALID_ARGUMENT;
        return Outcome(status, std::move(error));
    }

  private:
    static Result<hero_salvage_report> salvage_rows(std::string_view damaged_path, std::string_view new_path,
                                                    const hero_client *client, const hero_batch_options *options,
                                                    const std::string_view *rows) {
        Error error;
        hero_salvage_report report{};
        detail::CString from(damaged_path), to(new_path), r(rows ? *rows : std::string_view());
        hero_status status = from.ok() && to.ok() && r.ok()
                                 ? hero_journal_salvage(from.get(), to.get(), client, options,
                                                        rows ? r.get() : nullptr, &report, detail::out(error.handle_))
                                 : HERO_INVALID_ARGUMENT;
        return Result<hero_salvage_report>(status, std::move(report), std::move(error));
    }
    detail::Handle<hero_journal, hero_journal_free> handle_;
};

// Stops a running batch (hero_batch_stop): trigger() is safe in a signal
// handler. Keep it alive until the batch has returned.
class BatchStop {
  public:
    BatchStop() { status_ = hero_batch_stop_new(detail::out(handle_)); }
    hero_status status() const noexcept { return status_; }
    void trigger() const noexcept { hero_batch_stop_trigger(handle_.get()); }
    const hero_batch_stop *get() const noexcept { return handle_.get(); }

  private:
    hero_status status_;
    detail::Handle<hero_batch_stop, hero_batch_stop_free> handle_;
};

// Batch settings (hero_batch_options): defaults per field, concurrency,
// check-only, a stop handle.
class BatchOptions : public Builder {
  public:
    BatchOptions() { status_ = hero_batch_options_new(detail::out(handle_)); }

    // The value of request field `field` (its JSON name) for rows without one.
    BatchOptions &default_value(std::string_view field, std::string_view value) {
        detail::CString f(field), v(value);
        if (status_ == HERO_OK)
            status_ = (f.ok() && v.ok()) ? hero_batch_options_set_default(handle_.get(), f.get(), v.get())
                                         : HERO_INVALID_ARGUMENT;
        return *this;
    }
    // Reads the column headed `header` as field `field` (request or lookup
    // field, or "key"), e.g. ("recipient_contact_detail", "Mobile Telephone").
    BatchOptions &column(std::string_view field, std::string_view header) {
        detail::CString f(field), h(header);
        if (status_ == HERO_OK)
            status_ = (f.ok() && h.ok()) ? hero_batch_options_set_column(handle_.get(), f.get(), h.get())
                                         : HERO_INVALID_ARGUMENT;
        return *this;
    }
    // After each run, the CSV report at `path`: the input rows with outcome,
    // message_id and reason added (owner-only on Unix).
    BatchOptions &report_csv(std::string_view path) {
        detail::CString p(path);
        if (status_ == HERO_OK)
            status_ = p.ok() ? hero_batch_options_set_report(handle_.get(), p.get()) : HERO_INVALID_ARGUMENT;
        return *this;
    }
    BatchOptions &concurrency(uint32_t n) {
        step(handle_.get(), hero_batch_options_set_concurrency, n);
        return *this;
    }
    BatchOptions &check_only(bool on) {
        step(handle_.get(), hero_batch_options_set_check_only, on);
        return *this;
    }
    // `stop` must outlive every batch run with these options.
    BatchOptions &stop(const BatchStop &stop) {
        step(handle_.get(), hero_batch_options_set_stop, stop.get());
        return *this;
    }

    const hero_batch_options *get() const noexcept { return handle_.get(); }

  private:
    detail::Handle<hero_batch_options, hero_batch_options_free> handle_;
};

inline Result<Row> Journal::send(const Client &client, const Message &message) const {
    Row row;
    hero_status status = message.status();
    if (status == HERO_OK) status = hero_journal_send(get(), client.get(), nullptr, message.get(), detail::out(row.handle_));
    return Result<Row>(status, std::move(row));
}

inline Result<Row> Journal::send(const Client &client, std::string_view key, const Message &message) const {
    Row row;
    detail::CString c(key);
    hero_status status = c.ok() ? message.status() : HERO_INVALID_ARGUMENT;
    if (status == HERO_OK) status = hero_journal_send(get(), client.get(), c.get(), message.get(), detail::out(row.handle_));
    return Result<Row>(status, std::move(row));
}

inline Result<hero_salvage_report> Journal::salvage(std::string_view damaged_path, std::string_view new_path,
                                                   const Client &client, std::string_view rows,
                                                   const BatchOptions &options) {
    if (!options.ok()) return Result<hero_salvage_report>(options.status(), hero_salvage_report{});
    return salvage_rows(damaged_path, new_path, client.get(), options.get(), &rows);
}

// hero_batch_run: one message per row of `path` (.csv or .jsonl) through
// `client` and `journal` (nullptr: no journal; for checks and tests).
// `on_row(RowView, SummaryView)` runs on this thread once per finished row
// and must not throw (the call is noexcept: a throw ends the program).
// HERO_OK with the Summary when the batch ran; HERO_NOT_SENT with the
// Error when it could not start.
template <typename F>
Result<Summary> run_batch(const Client &client, const Journal *journal, std::string_view path,
                          const BatchOptions &options, F &&on_row) {
    struct Call {
        static void row(void *user_data, const hero_batch_row *row, const hero_batch_summary *progress) noexcept {
            (*static_cast<std::remove_reference_t<F> *>(user_data))(RowView(row), SummaryView(progress));
        }
    };
    Summary summary;
    Error error;
    detail::CString c(path);
    hero_status status = c.ok() ? options.status() : HERO_INVALID_ARGUMENT;
    if (status == HERO_OK)
        status = hero_batch_run(client.get(), journal ? journal->get() : nullptr, c.get(), options.get(), &Call::row,
                                const_cast<void *>(static_cast<const void *>(&on_row)), detail::out(summary.handle_),
                                detail::out(error.handle_));
    return Result<Summary>(status, std::move(summary), std::move(error));
}

}  // namespace hero

#endif /* HEROHEALTH_HPP */

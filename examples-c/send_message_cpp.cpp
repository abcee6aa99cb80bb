// send_message_cpp.cpp: send one SMS through Hero Health from C++17.
//
// Each handle lives in a std::unique_ptr whose deleter is the matching
// hero_*_free, so nothing leaks on any path. Settings come from the
// environment, as in send_message.c.
#include <cstdio>
#include <memory>

#include "herohealth.h"

namespace hero {

// unique_ptr<T> that frees with hero's own function.
template <typename T, void (*Free)(T *)>
struct Deleter {
    void operator()(T *p) const noexcept { Free(p); }
};
using Config = std::unique_ptr<hero_config, Deleter<hero_config, hero_config_free>>;
using Client = std::unique_ptr<hero_client, Deleter<hero_client, hero_client_free>>;
using Message = std::unique_ptr<hero_message, Deleter<hero_message, hero_message_free>>;
using Response = std::unique_ptr<hero_response, Deleter<hero_response, hero_response_free>>;
using Error = std::unique_ptr<hero_error, Deleter<hero_error, hero_error_free>>;

// An out-parameter for a smart pointer: hero::out(p) passes a T** to the
// C call, and p takes ownership of whatever was stored when the call's full
// expression ends.
template <typename Ptr>
struct Out {
    explicit Out(Ptr &owner) : owner_(owner) {}
    ~Out() { owner_.reset(raw_); }
    Out(const Out &) = delete;
    Out &operator=(const Out &) = delete;
    operator typename Ptr::pointer *() { return &raw_; }

  private:
    Ptr &owner_;
    typename Ptr::pointer raw_ = nullptr;
};

template <typename Ptr>
Out<Ptr> out(Ptr &owner) {
    return Out<Ptr>(owner);
}

}  // namespace hero

static int report(hero_status status, const hero::Error &error) {
    std::fprintf(stderr, "%s (status %d)\n",
                 error ? hero_error_message(error.get()) : "failed", static_cast<int>(status));
    return 1;
}

int main() {
    hero::Config config;
    hero::Client client;
    hero::Message message;
    hero::Response response;
    hero::Error error;

    hero_status status = hero_config_new_from_env(hero::out(config), hero::out(error));
    if (status != HERO_OK) return report(status, error);

    status = hero_client_new(config.get(), hero::out(client), hero::out(error));
    if (status != HERO_OK) return report(status, error);
    config.reset();  // the client keeps its own copy

    status = hero_message_new("4242", HERO_MESSAGE_TYPE_SMS, "Your prescription is ready.",
                              hero::out(message));
    if (status == HERO_OK)
        status = hero_message_set_recipient_contact_detail(message.get(), "07700 900123");
    if (status != HERO_OK) return report(status, error);

    status = hero_client_send(client.get(), message.get(), hero::out(response), hero::out(error));
    if (status != HERO_OK) return report(status, error);

    std::printf("sent: Hero message id %s\n", hero_response_message_id(response.get()));
    return 0;
}

/* libcurl_floor [SOCKET]: the least any client built on Debian's libcurl does — load libcurl
 * (and the ~35 libraries it pulls in), curl_global_init, one HEAD /_ping on the Engine's unix
 * socket — and nothing else. The benchmark measures its peak RSS beside dpty's and the docker
 * CLI's: what part of dpty's RSS is the price of the library the project is built on.
 * Build: cc -O2 -o libcurl_floor libcurl_floor.c -lcurl
 */
#include <curl/curl.h>
#include <stdio.h>

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p, (void)ud;
  return size * n;
}

int main(int argc, char **argv) {
  const char *sock = argc > 1 ? argv[1] : "/var/run/docker.sock";
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "libcurl_floor: curl_global_init failed\n");
    return 1;
  }
  CURL *c = curl_easy_init();
  if (!c) {
    fprintf(stderr, "libcurl_floor: curl_easy_init failed\n");
    return 1;
  }
  CURLcode rc = curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
  if (rc == CURLE_OK) rc = curl_easy_setopt(c, CURLOPT_URL, "http://localhost/_ping");
  if (rc == CURLE_OK) rc = curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (rc == CURLE_OK) rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  if (rc == CURLE_OK) rc = curl_easy_perform(c);
  long status = 0;
  if (rc == CURLE_OK) rc = curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  curl_global_cleanup();
  if (rc != CURLE_OK || status != 200) {
    fprintf(stderr, "libcurl_floor: ping failed: %s (HTTP %ld)\n", curl_easy_strerror(rc), status);
    return 1;
  }
  return 0;
}

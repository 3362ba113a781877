/*
 * svc: a tiny long-running HTTP service for process.service tests.
 *
 *   svc --port N [--ignore-term] [--crash-after MS] [--child] [--echo-env VAR]...
 *       [--unhealthy]
 *
 * Prints "svc: started pid P port N" and any --echo-env values to stdout,
 * then answers every HTTP request with 200 "ok" (503 with --unhealthy).
 * --crash-after MS prints 30 numbered lines and exits with status 3 after
 * MS milliseconds; --ignore-term ignores SIGTERM (needs SIGKILL); --child
 * forks a grandchild that stays in the process group and sleeps.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int port = 0, ignore_term = 0, crash_ms = -1, child = 0, unhealthy = 0, lfd, one = 1;
    struct sockaddr_in a;
    time_t crash_at = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--ignore-term") == 0)
            ignore_term = 1;
        else if (strcmp(argv[i], "--crash-after") == 0 && i + 1 < argc)
            crash_ms = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--child") == 0)
            child = 1;
        else if (strcmp(argv[i], "--unhealthy") == 0)
            unhealthy = 1;
        else if (strcmp(argv[i], "--echo-env") == 0 && i + 1 < argc) {
            const char *v = getenv(argv[++i]);
            printf("env %s=%s\n", argv[i], v ? v : "(unset)");
        } else {
            fprintf(stderr, "svc: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (ignore_term)
        signal(SIGTERM, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    printf("svc: started pid %ld port %d\n", (long)getpid(), port);
    fflush(stdout);
    if (child && fork() == 0) {
        for (;;)
            pause();
    }
    if (crash_ms >= 0) {
        struct timespec ts = {crash_ms / 1000, (long)(crash_ms % 1000) * 1000000L};
        for (int i = 1; i <= 30; i++)
            printf("svc: log line %d\n", i);
        printf("svc: fatal: cannot connect to the database\n");
        fflush(stdout);
        nanosleep(&ts, NULL);
        return 3;
    }
    (void)crash_at;
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0) {
        perror("svc: listen");
        return 1;
    }
    for (;;) {
        char buf[4096], resp[256];
        int c = accept(lfd, NULL, NULL);
        ssize_t n;
        if (c < 0)
            continue;
        n = recv(c, buf, sizeof(buf), 0);
        (void)n;
        snprintf(resp, sizeof(resp), "HTTP/1.1 %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                 unhealthy ? "503 Unavailable" : "200 OK");
        if (send(c, resp, strlen(resp), 0) < 0)
            perror("svc: send");
        close(c);
    }
}

/* Aggregation of worker counters into the 56-byte stats result and the
 * metrics line. Gauges come only from live workers; lifetime counters add the
 * totals of workers that have exited. */
#include "stats.h"

#include <stdio.h>
#include <string.h>

static void add_lifetime(struct iod_worker_counters *sum, const struct iod_worker_counters *c)
{
    sum->accepted_submits += c->accepted_submits;
    sum->rejected_submits += c->rejected_submits;
    sum->completions += c->completions;
    sum->completions_ok += c->completions_ok;
    sum->completions_error += c->completions_error;
    sum->bytes_read += c->bytes_read;
    sum->bytes_written += c->bytes_written;
}

void iod_stats_add_exited(struct iod_stats_totals *t, const struct iod_worker_counters *c,
                          bool abnormal)
{
    struct iod_worker_counters last = *c;
    if (abnormal && last.completions < last.accepted_submits) {
        last.completions_error += last.accepted_submits - last.completions;
        last.completions = last.accepted_submits;
    }
    add_lifetime(&t->sum, &last);
}

void iod_stats_aggregate(const struct iod_stats_totals *t,
                         const struct iod_worker_counters *const *live, size_t nlive,
                         uint32_t credits, struct iouringd_stats_result *out,
                         struct iod_worker_counters *lifetime)
{
    struct iod_worker_counters sum = t->sum;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < nlive; i++) {
        const struct iod_worker_counters *c = live[i];
        add_lifetime(&sum, c);
        out->outstanding_tasks += c->outstanding_tasks;
        out->outstanding_credit_tasks += c->outstanding_credit_tasks;
        out->registered_files += c->registered_files;
        out->registered_buffers += c->registered_buffers;
        if (c->connected) {
            out->active_clients++;
            out->available_credits += c->credits_remaining;
            if (c->credits_remaining == 0)
                out->clients_at_credit_limit++;
        }
    }
    out->accepted_submits = sum.accepted_submits;
    out->rejected_submits = sum.rejected_submits;
    out->completions = sum.completions;
    out->per_client_credit_limit = credits;
    if (lifetime)
        *lifetime = sum;
}

size_t iod_stats_format_metrics(char *buf, size_t cap, const struct iod_metrics_fields *m,
                                const struct iouringd_stats_result *s)
{
    int n = snprintf(buf, cap,
                     "iouringd metrics phase=%s pid=%ld%s socket=%s active_clients=%u"
                     " outstanding_tasks=%u outstanding_credit_tasks=%u available_credits=%u"
                     " registered_files=%u registered_buffers=%u accepted_submits=%llu"
                     " rejected_submits=%llu completions=%llu ring_entries=%u"
                     " registered_fd_slots=%u registered_buffer_slots=%u io_bytes_max=%u"
                     " per_client_credit_limit=%u clients_at_credit_limit=%u\n",
                     m->phase, m->pid, m->job_field, m->socket, s->active_clients,
                     s->outstanding_tasks, s->outstanding_credit_tasks, s->available_credits,
                     s->registered_files, s->registered_buffers,
                     (unsigned long long)s->accepted_submits,
                     (unsigned long long)s->rejected_submits,
                     (unsigned long long)s->completions, m->ring_entries,
                     m->registered_fd_slots, m->registered_buffer_slots, m->io_bytes_max,
                     m->credits, s->clients_at_credit_limit);
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

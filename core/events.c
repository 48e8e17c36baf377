/* Event delivery to plugins and to the HTTP event stream, on the main
 * thread, after the block that produced them committed. */
#include <string.h>

#include "node_private.h"

static void
sub_free (gpointer p)
{
  Subscription *s = p;
  g_free (s->prefix);
  g_free (s);
}

guint
cairn_events_subscribe (CairnNode *node, const char *prefix,
                        CairnPlugin *plugin, CairnEventFn pfn,
                        CairnNodeEventFn nfn, void *user_data)
{
  if (node->subscriptions == NULL)
    node->subscriptions = g_ptr_array_new_with_free_func (sub_free);
  Subscription *s = g_new0 (Subscription, 1);
  s->id = ++node->next_sub_id;
  s->prefix = g_strdup (prefix ? prefix : "");
  s->plugin = plugin;
  s->plugin_fn = pfn;
  s->node_fn = nfn;
  s->user_data = user_data;
  g_ptr_array_add (node->subscriptions, s);
  return s->id;
}

void
cairn_events_unsubscribe (CairnNode *node, guint id)
{
  if (node->subscriptions == NULL)
    return;
  for (guint i = 0; i < node->subscriptions->len; i++) {
    Subscription *s = node->subscriptions->pdata[i];
    if (s->id == id) {
      /* May run from inside a callback: mark, sweep after publishing. */
      s->removed = TRUE;
      return;
    }
  }
}

static void
sweep (CairnNode *node)
{
  for (guint i = node->subscriptions->len; i > 0; i--) {
    Subscription *s = node->subscriptions->pdata[i - 1];
    if (s->removed)
      g_ptr_array_remove_index (node->subscriptions, i - 1);
  }
}

void
cairn_events_publish (CairnNode *node, const CairnEvent *ev)
{
  if (node->subscriptions == NULL)
    return;
  guint n = node->subscriptions->len; /* new subscribers wait for the next */
  for (guint i = 0; i < n; i++) {
    Subscription *s = node->subscriptions->pdata[i];
    if (s->removed || !g_str_has_prefix (ev->type, s->prefix))
      continue;
    if (s->plugin_fn)
      s->plugin_fn (s->plugin, ev, s->user_data);
    else if (s->node_fn)
      s->node_fn (ev, s->user_data);
  }
  sweep (node);
}

void
cairn_events_free_all (CairnNode *node)
{
  g_clear_pointer (&node->subscriptions, g_ptr_array_unref);
}

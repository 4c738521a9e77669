#include "orchestration/html_escape.h"

#include <gtest/gtest.h>

namespace tandem::orchestration {
namespace {

TEST(EscapeHtml, MarkupAndQuotesBecomeEntitiesTheRestIsKept) {
  EXPECT_EQ(EscapeHtml("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
  EXPECT_EQ(EscapeHtml("traffic 25% → ünïcode"), "traffic 25% → ünïcode");
  EXPECT_EQ(EscapeHtml(""), "");
  EXPECT_EQ(EscapeHtml("&amp;"), "&amp;amp;");
}

}  // namespace
}  // namespace tandem::orchestration

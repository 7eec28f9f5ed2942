# 使用提醒:
# 1. xbot包提供软件自动化、数据表格、Excel、日志、AI等功能
# 2. package包提供访问当前应用数据的功能,如获取元素、访问全局变量、获取资源文件等功能
# 3. 当此模块作为流程独立运行时执行main函数
# 4. 可视化流程中可以通过"调用模块"的指令使用此模块
#
# 扣子(Coze)模块:把本文件整个粘贴为影刀应用里名为 coze 的 Python 模块,
# 在「调用模块」里选 coze → ask,填 question 即可得到回答。
# 令牌、智能体 ID 建议放在全局变量 coze_token(密码类型)、coze_bot_id 里;
# 长期无人值守请用服务类应用:coze_app_id、coze_key_id、coze_private_key(密码类型,填 .pem 路径或私钥)。
# 说明文档:README.md 与 docs/(参数、错误码、常见问题)。

try:  # inside ShadowBot; outside it (tests, command line) these imports fail harmlessly
    import xbot
    from xbot import print, sleep
    from .import package
    from .package import variables as glv
except Exception:
    xbot = None
    glv = None  # no ShadowBot global variables outside ShadowBot

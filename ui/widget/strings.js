/*
 * Widget part 2 of 7: every text the widget shows, in English and Chinese; a site's widget settings
 * (strings) and the tag's data-strings override them key by key (t() in setup.js).
 */
var STRINGS = {
  en: {
    open: "Chat with support", close: "Close chat", title: "Support",
    greeting: "Hi! Ask me about orders, delivery, returns and refunds.",
    placeholder: "Type your question", send: "Send", person: "Talk to a person",
    sources: "Sources", you: "You", assistant: "Assistant", thinking: "Thinking…",
    handoff: "A member of our team will take over this conversation.",
    refused: "This chat is not available on this website.",
    notAllowed: "This site is not allowed to embed the chat.",
    offline: "The chat could not connect. Please try again later.",
    busy: "Too many messages. Please wait {s} seconds.", error: "Something went wrong: {m}",
    helpful: "Helpful", notHelpful: "Not helpful", thanks: "Thanks for your feedback.",
    agent: "Support team", handedBack: "The assistant is answering again.",
    contactLabel: "Your e-mail address", contactSend: "Send address",
    contactThanks: "Thanks! A person will write to you at {email}."
  },
  zh: {
    open: "联系客服", close: "关闭对话", title: "客服",
    greeting: "您好！可以问我订单、配送、退货和退款的问题。",
    placeholder: "请输入您的问题", send: "发送", person: "转人工客服",
    sources: "参考来源", you: "您", assistant: "助手", thinking: "正在思考…",
    handoff: "我们的客服人员将接手本次对话。",
    refused: "此网站无法使用本聊天服务。",
    notAllowed: "此网站未获准嵌入本聊天窗口。",
    offline: "无法连接聊天服务，请稍后再试。",
    busy: "消息过于频繁，请 {s} 秒后再试。", error: "出错了：{m}",
    helpful: "有帮助", notHelpful: "没有帮助", thanks: "感谢您的反馈。",
    agent: "客服人员", handedBack: "助手已恢复回答。",
    contactLabel: "您的电子邮箱", contactSend: "提交邮箱",
    contactThanks: "谢谢！客服人员会发邮件到 {email} 联系您。"
  }
};

/* localvision: the pages' language (English or Simplified Chinese), loaded first by every page.
 *
 * - The language: the one saved by the switch (localStorage "localvision.lang"), else the first
 *   of the browser's languages (navigator.languages) that the UI speaks, else English. It is set
 *   on <html lang> (zh-CN / en) so the browser picks Chinese glyphs and line breaking.
 * - Every string a page shows is here, in STRINGS: one table per script (app, history, live,
 *   teach, auth, login, and this file's own), its English (en) and Chinese (zh) side by side
 *   with the same keys; strings several pages share are written once, in COMMON. A page script
 *   asks localvisionI18n.strings(name) for its table in the page's language.
 * - A translation is one function, window.localvisionLocalize(english, name) -> {key:
 *   translation}: this file defines it when the page is in Chinese (a key the Chinese table
 *   lacks, or holds as another kind, is reported as a console error); a script loaded before
 *   this one may define its own (the tests drop in a pseudo-translation so).
 * - The server writes its error messages in English, each with a stable `code`.
 *   localvisionI18n.errorText() gives the sentence for one: in English the server's own message
 *   (it says the most), in Chinese the sentence for its code (ERRORS below), and the server's
 *   message for a code this file does not know.
 * - The switch (中文 / English) in every page's header saves the choice and reloads the page.
 *
 * The sign-in page is served before anyone is signed in, when only it and its stylesheets are
 * open, so the server puts this file into that page inline (server/login.py): it must never hold
 * a closing script tag, an HTML comment's opening or two opening braces in a row (test_i18n.py
 * checks).
 */
"use strict";

(function () {
  const STORAGE_KEY = "localvision.lang";
  // Each language's own name (never translated) and its BCP 47 tag for <html lang>.
  const LANGUAGES = { zh: { name: "中文", tag: "zh-CN" }, en: { name: "English", tag: "en" } };
  const FORMATS_EN = "JPEG, PNG, WebP, BMP, GIF or TIFF";
  const FORMATS_ZH = "JPEG、PNG、WebP、BMP、GIF 或 TIFF";

  /** "zh" for zh, zh-CN, zh-Hans-SG...; "en" for en, en-GB...; null for a language not spoken. */
  function supported(tag) {
    const primary = String(tag || "").toLowerCase().split(/[-_]/)[0];
    return Object.prototype.hasOwnProperty.call(LANGUAGES, primary) ? primary : null;
  }

  function savedLanguage() {
    try {
      return supported(localStorage.getItem(STORAGE_KEY));
    } catch (err) {
      return null; // storage blocked (a privacy setting): the browser's language decides
    }
  }

  function browserLanguage() {
    const tags = navigator.languages && navigator.languages.length
      ? navigator.languages : [navigator.language];
    for (const tag of tags) {
      const lang = supported(tag);
      if (lang) return lang;
    }
    return "en";
  }

  const lang = savedLanguage() || browserLanguage();
  document.documentElement.lang = LANGUAGES[lang].tag;
  // Dates and numbers: the browser's own locale when it is this language (zh-TW, en-GB keep
  // their formats), else the language's tag.
  const locale = (navigator.languages || []).find((tag) => supported(tag) === lang) ||
    LANGUAGES[lang].tag;

  // ---------------------------------------------------------------------------------------------
  // Sentences for the server's error codes. `x` holds what the page knows that a sentence may
  // name, each possibly missing: mb (the photo size limit), zipMb, requestMb (formatted sizes),
  // mp (the pixel limit, in megapixels), seconds (how long to wait, from the error itself).

  const ERRORS_EN = {
    empty_file: "That file is empty.",
    unsupported_format: `That file is not an image localvision can read (${FORMATS_EN}).`,
    corrupt_image: "That image is damaged and could not be opened.",
    image_too_large: (x) => (x.mp
      ? `That image has too many pixels for the server to open safely (the limit is ${x.mp} MP).`
      : "That image has too many pixels for the server to open safely."),
    file_too_large: (x) => (x.mb ? `That file is too large: the server accepts at most ${x.mb} per photo.`
      : "That file is larger than the server accepts."),
    file_not_found: "That file was not found.",
    invalid_archive: "That ZIP could not be read; it may be damaged.",
    nested_archive: "Archives inside the ZIP are not opened.",
    encrypted_member: "That file is encrypted and cannot be read.",
    archive_too_large: "That ZIP holds too many files or expands too far. Send fewer or smaller images.",
    invalid_input: "That file could not be read.",
    invalid_argument: "The request was not valid.",
    confirmation_required: "Deleting everything needs a confirmation.",
    too_many_files: "Only one file may be sent here.",
    no_file: "No file was sent.",
    bad_request: "The request was not valid.",
    payload_too_large: (x) => `The upload is too large for the server${x.requestMb ? ` (at most ${x.requestMb})` : ""}. ` +
      "Send fewer or smaller files at a time.",
    too_many_parts: "Too many files in one upload. Send fewer at a time.",
    field_too_large: "A form field is too large.",
    invalid_multipart: "The upload arrived damaged. Try again.",
    invalid_request: "The request does not follow the inference protocol.",
    ray_unavailable: "Ray is not installed on the server.",
    request_timeout: "The upload was too slow, so the server stopped waiting. Try again.",
    headers_too_large: "The request's headers are too large.",
    unsupported_media_type: "The server does not accept this kind of upload.",
    method_not_allowed: "The server does not allow that here.",
    host_not_allowed: "This server does not answer to the address used to open it.",
    model_error: "The model cannot be used.",
    unknown_model: "This server has no model by that name.",
    weights_missing: "The model's weights are not on this machine.",
    weights_invalid: "The model's weights are damaged.",
    weights_download_failed: "The model's weights could not be downloaded.",
    backend_unavailable: "The model's backend is not available on this machine.",
    precision_unavailable: "The model cannot run at that precision here.",
    model_exists: "A model by that name is already installed.",
    labels_invalid: "The model's labels are not valid.",
    export_refused: "The model could not be exported.",
    converter_missing: "The converter for that export format is not installed.",
    converter_not_set_up: "The converter for that export format is not set up yet: export once with --setup-converter.",
    model_not_ready: "The model is not ready yet, so nothing can be recognized. See the banner at the top.",
    inference_failed: "The model failed while recognizing. Try again; if it keeps happening, look at the server's log.",
    overloaded: "The server is busy right now. Try again in a few seconds.",
    timeout: "The server could not finish in time. Try again in a few seconds.",
    history_unavailable: "The server cannot reach its history database right now, so nothing was recognized or saved. Try again in a few seconds.",
    rate_limited: (x) => (x.seconds ? `Too many requests. Try again in ${x.seconds} s.`
      : "Too many requests. Try again in a moment."),
    not_found: "That was not found; it may have been deleted already.",
    unauthorized: "You are not signed in, or your sign-in has expired. Sign in again.",
    invalid_credentials: "Wrong user name or password.",
    too_many_attempts: (x) => (x.seconds ? `Too many failed sign-ins. Try again in ${x.seconds} seconds.`
      : "Too many failed sign-ins. Try again later."),
    sign_in_busy: (x) => (x.seconds ? `Too many people are signing in right now. Try again in ${x.seconds} seconds.`
      : "Too many people are signing in right now. Try again in a few seconds."),
    forbidden: "You may not do that.",
    csrf_failed: "The page's security token is missing or has expired. Reload the page and try again.",
    cross_origin: "Another web site may not change anything here.",
    user_exists: "A user by that name already exists.",
    unknown_user: "There is no user by that name.",
    unknown_key: "There is no such API key.",
    database_too_new: "The database was set up by a newer version of localvision; upgrade this one.",
    folder_not_found: "That folder does not exist.",
    sort_loop: "The folder to sort into is inside the folder being watched; every sorted photo would arrive again.",
    sort_failed: "The photo was recognized but could not be put into its label's folder.",
    sidecar_failed: "The photo was recognized but its XMP sidecar could not be read or written.",
    stream_error: "The video or camera stream cannot be read.",
    bad_stream_url: "That stream address is not allowed: use an rtsp://, rtsps://, http:// or https:// URL.",
    stream_unavailable: "The stream could not be opened: check the address and that the camera is on.",
    stream_lost: "The stream dropped and did not come back.",
    camera_not_found: "There is no such camera on this machine.",
    not_a_video: "This file is not a video localvision can read.",
    unsupported_codec: "The video is in a format (codec) that cannot be decoded here.",
    too_many_streams: "The service already watches as many cameras as it may. Stop one first.",
    video_not_installed: "This installation cannot open videos or camera streams: PyAV (FFmpeg) is not installed. The container image has it when built with --with-video.",
    dataset_invalid: "The training data could not be read: a ZIP may be damaged, or a CSV is not in the form path,label.",
    dataset_not_found: "The training data was not found: give a folder with one sub-folder per class, a ZIP of one, or a CSV of path,label.",
    dataset_no_images: "The training data holds no readable image. Put each class's photos in a sub-folder named after the class.",
    dataset_duplicate_classes: "Two classes have the same name apart from capitals, spaces, \"_\" or \"-\" (such as Cat and cat). Merge them or rename one.",
    dataset_one_class: "Training needs at least two classes; this data has only one.",
    dataset_more_classes_than_images: "The training data has more classes than readable images. Every class needs at least two photos.",
    dataset_empty_class: "A class has no readable image. Add photos to it or remove it.",
    dataset_class_too_small: "A class has fewer than two readable images: each class needs one to learn from and one to check with.",
    project_not_found: "There is no such Teach project; it may have been deleted.",
    class_not_found: "The project has no such class; it may have been deleted.",
    photo_not_found: "That photo is not in the project; it may have been deleted.",
    report_not_found: "This model has no training report.",
    no_training_job: "No training has been started yet.",
    project_exists: "A project by that name already exists.",
    class_exists: "The project already has a class by that name.",
    invalid_class_name: "That cannot be a class name: it may not be empty, contain / or \\, start with a dot, or be train, val or validation.",
    example_in_other_class: "This photo is already an example of another class. Delete it there first.",
    training_busy: "A training is running. Wait for it to finish, or cancel it.",
    training_failed: "The training stopped without finishing. See the server's log.",
    training_interrupted: "The server stopped while this training ran. Start it again.",
    model_name_reserved: "That name belongs to a built-in model: give the new model another name.",
    model_not_from_project: "A model by that name is already installed and was not trained from this project (an imported model, or another project's). Give the new model another name.",
    too_many_corrections: (x) => (x.seconds ? `You have sent as many corrections as one person may in a day. Try again in ${x.seconds} s.`
      : "You have sent as many corrections as one person may in a day. Try again later."),
    corrections_full: "This model already has as many corrections as the server keeps. An administrator can train it and delete some on the Teach page.",
    invalid_model_name: "That is not a model name: use lower-case letters, digits, '_', '-' and '.'.",
    training_option_invalid: "A training option is not valid.",
    invalid_rule: "That rule cannot be used: give at least one label or group to accept or reject, and a confidence from 0 to 1.",
    invalid_rule_name: "That is not a rule name: use lower-case letters, digits, '_', '-' and '.'.",
    unknown_term: "The rule names a label or group this model does not have.",
    rule_not_found: "No rule by that name has been saved.",
    text_reading_unavailable: "This server cannot read text in photos: its optional text reader " +
      "is not installed (pip install 'localvision[text]').",
    text_reading_failed: "The text in this photo could not be read.",
    text_model_damaged: "The text reader's model files on the server are damaged, so no text can " +
      "be read. Whoever runs the server can delete them: they are made again from the installed reader.",
    internal_error: "Something went wrong on the server. Try again; if it keeps happening, look at the server's log.",
  };

  const ERRORS_ZH = {
    empty_file: "这个文件是空的。",
    unsupported_format: `这个文件不是 localvision 能读取的图片（支持 ${FORMATS_ZH}）。`,
    corrupt_image: "图片已损坏，无法打开。",
    image_too_large: (x) => (x.mp ? `图片像素太多（上限 ${x.mp} 百万像素），无法安全打开。`
      : "图片像素太多，无法安全打开。"),
    file_too_large: (x) => (x.mb ? `文件太大：服务器接受的每张照片最大 ${x.mb}。`
      : "文件太大，超出了服务器允许的大小。"),
    file_not_found: "找不到这个文件。",
    invalid_archive: "无法读取这个 ZIP，文件可能已损坏。",
    nested_archive: "ZIP 里的压缩包不会被打开。",
    encrypted_member: "这个文件已加密，无法读取。",
    archive_too_large: "这个 ZIP 包含的文件太多或解压后太大，请减少图片数量或换用较小的图片。",
    invalid_input: "无法读取这个文件。",
    invalid_argument: "请求无效。",
    confirmation_required: "删除全部记录需要先确认。",
    too_many_files: "这里一次只能发送一个文件。",
    no_file: "没有发送任何文件。",
    bad_request: "请求无效。",
    payload_too_large: (x) => `上传的内容太大${x.requestMb ? `（上限 ${x.requestMb}）` : ""}，` +
      "请分几次上传，或换用较小的文件。",
    too_many_parts: "一次上传的文件太多，请分几次上传。",
    field_too_large: "表单字段太长。",
    invalid_multipart: "上传的数据已损坏，请重试。",
    invalid_request: "请求不符合推理协议。",
    ray_unavailable: "服务器上没有安装 Ray。",
    request_timeout: "上传太慢，服务器已停止等待，请重试。",
    headers_too_large: "请求头太大。",
    unsupported_media_type: "服务器不接受这种上传方式。",
    method_not_allowed: "服务器不允许这个操作。",
    host_not_allowed: "这台服务器不响应当前使用的地址。",
    model_error: "模型无法使用。",
    unknown_model: "这台服务器上没有这个模型。",
    weights_missing: "本机上没有这个模型的权重文件。",
    weights_invalid: "模型的权重文件已损坏。",
    weights_download_failed: "无法下载模型的权重文件。",
    backend_unavailable: "本机无法使用这个模型的推理后端。",
    precision_unavailable: "本机无法以这个精度运行模型。",
    model_exists: "已经安装了同名的模型。",
    labels_invalid: "模型的类别标签无效。",
    export_refused: "无法导出这个模型。",
    converter_missing: "未安装该导出格式所需的转换器。",
    converter_not_set_up: "该导出格式的转换器尚未准备好：请先用 --setup-converter 导出一次。",
    model_not_ready: "模型尚未就绪，暂时无法识别。请查看页面顶部的提示。",
    inference_failed: "模型识别时出错。请重试；如果反复出现，请查看服务器日志。",
    overloaded: "服务器正忙，请过几秒再试。",
    timeout: "服务器未能及时完成识别，请过几秒再试。",
    history_unavailable: "服务器暂时无法连接历史记录数据库，所以这次没有识别也没有保存。请过几秒再试。",
    rate_limited: (x) => (x.seconds ? `请求太频繁，请 ${x.seconds} 秒后再试。` : "请求太频繁，请稍后再试。"),
    not_found: "找不到要操作的内容，它可能已被删除。",
    unauthorized: "你尚未登录，或登录已过期。请重新登录。",
    invalid_credentials: "用户名或密码错误。",
    too_many_attempts: (x) => (x.seconds ? `登录失败次数过多，请 ${x.seconds} 秒后再试。`
      : "登录失败次数过多，请稍后再试。"),
    sign_in_busy: (x) => (x.seconds ? `现在登录的人太多，请 ${x.seconds} 秒后再试。`
      : "现在登录的人太多，请过几秒再试。"),
    forbidden: "你没有权限执行这个操作。",
    csrf_failed: "页面的安全令牌缺失或已过期。请刷新页面后重试。",
    cross_origin: "其他网站不能在这里修改任何内容。",
    user_exists: "这个用户名已被使用。",
    unknown_user: "没有这个用户。",
    unknown_key: "没有这个 API 密钥。",
    database_too_new: "数据库由更新版本的 localvision 建立，请升级本程序。",
    folder_not_found: "这个文件夹不存在。",
    sort_loop: "要整理到的文件夹在被监视的文件夹里面，整理好的每张照片都会再次被当作新照片。",
    sort_failed: "照片已识别，但没能放进它的标签文件夹。",
    sidecar_failed: "照片已识别，但没能读取或写入它的 XMP 附属文件。",
    stream_error: "无法读取这个视频或摄像头流。",
    bad_stream_url: "不允许这个流地址：请使用 rtsp://、rtsps://、http:// 或 https:// 地址。",
    stream_unavailable: "无法打开这个流：请检查地址，并确认摄像头已开启。",
    stream_lost: "流已中断，且没有恢复。",
    camera_not_found: "这台机器上没有这个摄像头。",
    not_a_video: "这个文件不是 localvision 能读取的视频。",
    unsupported_codec: "这个视频的编码格式无法在这里解码。",
    too_many_streams: "本服务监看的摄像头已达上限，请先停止一个。",
    video_not_installed: "此安装无法打开视频或摄像头流：未安装 PyAV（FFmpeg）。使用 --with-video 构建的容器镜像包含它。",
    dataset_invalid: "无法读取训练数据：ZIP 可能已损坏，或 CSV 不是“路径,类别”的格式。",
    dataset_not_found: "找不到训练数据：请提供一个文件夹（每个类别一个子文件夹）、它的 ZIP，或“路径,类别”格式的 CSV。",
    dataset_no_images: "训练数据里没有可读取的图片。请把每个类别的照片放进以类别命名的子文件夹。",
    dataset_duplicate_classes: "有两个类别的名称只差大小写、空格、“_”或“-”。请合并它们或重命名其中一个。",
    dataset_one_class: "训练至少需要两个类别，这些数据只有一个。",
    dataset_more_classes_than_images: "训练数据的类别比可读取的图片还多。每个类别至少需要两张照片。",
    dataset_empty_class: "有一个类别没有可读取的图片。请给它添加照片，或删除这个类别。",
    dataset_class_too_small: "有一个类别的可读取图片少于两张：每个类别需要一张用来学习，一张用来检验。",
    project_not_found: "没有这个训练项目，它可能已被删除。",
    class_not_found: "项目里没有这个类别，它可能已被删除。",
    photo_not_found: "项目里没有这张照片，它可能已被删除。",
    report_not_found: "这个模型没有训练报告。",
    no_training_job: "还没有开始过训练。",
    project_exists: "已经有同名的项目。",
    class_exists: "项目里已经有同名的类别。",
    invalid_class_name: "不能用作类别名：名称不能为空、不能包含 / 或 \\、不能以点开头，也不能是表示训练集或验证集的文件夹名。",
    example_in_other_class: "这张照片已经是另一个类别的示例，请先在那里删除。",
    training_busy: "正在训练中。请等它完成，或取消它。",
    training_failed: "训练没有完成就停止了。请查看服务器日志。",
    training_interrupted: "训练进行时服务器停止了。请重新开始训练。",
    model_name_reserved: "这个名字属于内置模型：请给新模型另起一个名字。",
    model_not_from_project: "已经安装了同名的模型，而且它不是用这个项目训练的（导入的模型，或其他项目的模型）。请给新模型另起一个名字。",
    too_many_corrections: (x) => (x.seconds ? `你今天发送的纠正已达到每人每天的上限，请 ${x.seconds} 秒后再试。`
      : "你今天发送的纠正已达到每人每天的上限，请稍后再试。"),
    corrections_full: "这个模型的纠正照片已达到服务器保存的上限。管理员可以在训练页训练它并删除一些。",
    invalid_model_name: "这不是有效的模型名：请使用小写字母、数字、“_”、“-”和“.”。",
    training_option_invalid: "训练选项无效。",
    invalid_rule: "这条规则无法使用：请至少给出一个要接受或拒绝的类别或大类，置信度须在 0 到 1 之间。",
    invalid_rule_name: "这不是有效的规则名：请使用小写字母、数字、“_”、“-”和“.”。",
    unknown_term: "规则中的类别或大类不在这个模型中。",
    rule_not_found: "没有保存这个名称的规则。",
    text_reading_unavailable: "这台服务器无法识别照片中的文字：没有安装可选的文字识别组件" +
      "（pip install 'localvision[text]'）。",
    text_reading_failed: "无法识别这张照片中的文字。",
    text_model_damaged: "服务器上的文字识别模型文件已损坏，无法识别文字。服务器管理员可以删除这些文件，" +
      "它们会根据已安装的识别组件重新生成。",
    internal_error: "服务器出错了。请重试；如果反复出现，请查看服务器日志。",
  };

  // ---------------------------------------------------------------------------------------------
  // The strings of every page: one table per script, English and Chinese side by side.

  const COMMON = {
    en: {
      skipLink: "Skip to content",
      navPages: "Pages",
      navRecognize: "Recognize",
      navLive: "Live camera",
      navHistory: "History",
      navTeach: "Teach",
      signOut: "Sign out",
      footer: "localvision runs offline: nothing you upload leaves this machine.",
      downloadCsv: "Download CSV",
      ms: (ms) => `${ms} ms`,
      notRecognized: "Not recognized",
      // the text read in a photo, on a row (text.js inRow): the results table and the history
      textNone: "No text found",
      rowText: (text) => `Text: ${text}`,
    },
    zh: {
      skipLink: "跳到正文",
      navPages: "页面",
      navRecognize: "识别",
      navLive: "实时摄像头",
      navHistory: "历史记录",
      navTeach: "训练",
      signOut: "退出登录",
      footer: "localvision 离线运行：你上传的内容不会离开这台电脑。",
      downloadCsv: "下载 CSV",
      ms: (ms) => `${ms} 毫秒`,
      notRecognized: "未识别",
      textNone: "未发现文字",
      rowText: (text) => `文字：${text}`,
    },
  };

  const STRINGS = {
    i18n: {
      en: {
        languageSwitch: "Language",
        errors: ERRORS_EN,
      },
      zh: {
        languageSwitch: "语言",
        errors: ERRORS_ZH,
      },
    },

    app: {
      en: {
        // the page itself (index.html, by data-i18n key)
        pageTitle: "localvision: recognize a photo",
        skipLink: COMMON.en.skipLink,
        navPages: COMMON.en.navPages,
        navRecognize: COMMON.en.navRecognize,
        navLive: COMMON.en.navLive,
        navHistory: COMMON.en.navHistory,
        navTeach: COMMON.en.navTeach,
        signOut: COMMON.en.signOut,
        heading: "What is in this photo?",
        lede: "Your photos stay on this computer: a model running here labels them.",
        dropTitle: "Drop photos or a ZIP here",
        dropSub: "or paste an image (Ctrl+V / \u2318V)",
        chooseFiles: "Choose files",
        takePhoto: "Take photo",
        chosenFiles: "Chosen files",
        clearAll: "Clear all",
        resultsRegion: "Results",
        footer: COMMON.en.footer,
        apiDocs: "API docs",
        // example photos
        examplesTitle: "No photo at hand? Try one of these:",
        exampleTry: (caption) => `Recognize the example photo: ${caption}`,
        examples: {
          coffee: "Coffee",
          chelsea: "Cat",
          astronaut: "Astronaut",
          rocket: "Rocket",
          grace_hopper: "Grace Hopper",
        },
        exampleFailed: "The example photo could not be loaded from the server. Reload the page and try again.",
        // sizes
        bytes: (n) => `${n} B`,
        kb: (n) => `${n} KB`,
        mb: (n) => `${n} MB`,
        // limits, choosing files
        limits: (mb) => `${FORMATS_EN} photos up to ${mb} each, or a ZIP of them.`,
        tooBig: (name, size, mb) => `${name} is too large (${size}): the server accepts photos up ` +
          `to ${mb}. Try a smaller copy of it.`,
        wrongTypeHint: `Choose ${FORMATS_EN} images, or a ZIP of them.`,
        wrongTypeOne: (name, hint) => `${name} is not a photo or a ZIP. ${hint}`,
        wrongTypeMany: (n, names, hint) =>
          `${n} files are not photos or ZIPs and were left out (${names}). ${hint}`,
        remove: (name) => `Remove ${name}`,
        removeTitle: "Remove",
        zipTile: "ZIP",
        zipSize: (size) => `ZIP \u00b7 ${size}`,
        photos: (n) => (n === 1 ? "1 photo" : `${n} photos`),
        zips: (n) => (n === 1 ? "1 ZIP" : `${n} ZIPs`),
        files: (n) => (n === 1 ? "1 file" : `${n} files`),
        and: (a, b) => `${a} and ${b}`,
        chosen: (what) => `${what} chosen`,
        // the Recognize button
        recognize: "Recognize",
        recognizing: "Recognizing\u2026",
        notReadyTitle: "The model is not ready (see the banner above).",
        chooseFirst: "Choose a photo first.",
        // progress and results
        recognizingFiles: (files) => `Recognizing ${files}\u2026`,
        sent: (done, files) => `Recognizing\u2026 ${done} of ${files} sent`,
        partial: "The files before it were recognized; their results are below.",
        done: (files) => `Done: ${files} recognized.`,
        doneSome: (files, failed) => `Done: ${files} recognized, ${failed} could not be read.`,
        nothing: "Nothing could be recognized.",
        resultTitle: "Result",
        resultsTitle: "Results",
        yourPhoto: (name) => `Your photo, ${name}`,
        mostLikely: "Most likely",
        // "not sure": the top label is under the server's confidence floor
        notSure: "Not sure",
        maybeBefore: "maybe ", // "maybe <label>?", the label in between
        maybeAfter: "?",
        notSureWhy: (percent, floor) => (floor
          ? `The best guess is only ${percent}, under the ${floor} this service needs to be sure. ` +
            "These are its top guesses:"
          : `The best guess is only ${percent}, too little to be sure. These are its top guesses:`),
        // groups (cat, dog, bird...): the summed probability of their fine labels
        showGroups: "Show groups",
        showGroupsTitle: "Also say what kind of thing it is (cat, dog, bird, car\u2026): the " +
          "probabilities of its fine labels added up",
        groupTitle: "Group",
        groupsOf: (name) => `Groups for ${name}`,
        colGroup: "Group",
        // the text read in the photo (?text=true): numbered boxes over it, its lines beside
        readText: "Read text",
        readTextTitle: "Also read the text in the photo (Chinese and English) and mark where it is",
        textTitle: "Text in the photo",
        textNone: COMMON.en.textNone,
        textLinesOf: (n, name) => (n === 1 ? `1 line of text in ${name}` : `${n} lines of text in ${name}`),
        textConfidence: (percent) => `Read with ${percent} confidence`,
        textCopy: "Copy text",
        textCopyFailed: "Could not copy here: the text is selected, press Ctrl+C.",
        textOffHint: "Turn off \u201cRead text\u201d to recognize the photo without its text.",
        notices: {
          auto_offline: "ResNet-18\u2019s weights are not on this machine (offline), so the bundled " +
            "efficientnet_lite0 answers. Get them with: localvision weights fetch resnet18",
          auto_download_failed: "ResNet-18\u2019s weights could not be downloaded, so the bundled " +
            "efficientnet_lite0 answers. Get them with: localvision weights fetch resnet18",
        },
        rowText: COMMON.en.rowText,
        topLabels: (n, name) => `Top ${n} labels for ${name}`,
        answeredBy: (model) => `Answered by ${model}`,
        ms: COMMON.en.ms,
        couldNotRecognize: (name, why) => `Could not recognize ${name}: ${why}`,
        notRecognized: COMMON.en.notRecognized,
        summary: (files, ok) => `${files}: ${ok} recognized`,
        summaryFailed: (text, failed) => `${text}, ${failed} could not be read`,
        tableCaption: (summary) => `Recognition results, ${summary}`,
        colPhoto: "Photo",
        colFile: "File",
        colLabel: "Top label",
        colConfidence: "Confidence",
        colOther: "Other labels",
        downloadCsv: COMMON.en.downloadCsv,
        // banners
        modelLabel: "Model",
        modelNotReadyLabel: "Model (not ready)",
        classesCount: (n) => `${n} classes`,
        speed: (ms) => `\u2248 ${ms} ms/photo`,
        accuracy: (percent) => `ImageNet top-1 ${percent}%`,
        modelLoading: (name) => `${name} (loading\u2026)`,
        modelUnavailable: (name) => `${name} (not available)`,
        unavailable: "Recognition is unavailable: ",
        fixIt: "To fix it, run: ",
        copy: "Copy",
        copied: "Copied",
        checksAgain: "This page checks again every few seconds.",
        loading: "The model is loading. ",
        loadingSoon: "Recognize will be ready in a few seconds.",
        notLoaded: "The model has not been loaded.",
        // errors, when the server sent no sentence of its own
        unreachable: "Could not reach the localvision server. Check that it is still running, then try again.",
        unreadable: "The server sent an answer this page cannot read. Try again.",
        tryAgainSoon: "Try again in a few seconds.",
        serverProblem: (status) => `The server ran into a problem (HTTP ${status}). Try again; if it ` +
          "keeps happening, look at the server's log.",
        refused: (status) => `The server refused the request (HTTP ${status}).`,
        notRecognizable: "This file could not be recognized.",
        // "Wrong? It is...": a correction, saved as a training example (the Teach page)
        wrong: "Wrong?",
        wrongTitle: "Say what it really is: the photo is kept as a training example for this model",
        itIs: "It is",
        itIsPlaceholder: "a label, or a new name",
        saveExample: "Save",
        cancelExample: "Cancel",
        savingExample: "Saving\u2026",
        savedExample: (label, model) => `Saved as an example of \u201c${label}\u201d for ${model}.`,
        seeTeach: "See it on the Teach page",
        feedbackNoPhoto: "This photo cannot be read again here; choose it again to correct it.",
      },
      zh: {
        pageTitle: "localvision：识别照片",
        skipLink: COMMON.zh.skipLink,
        navPages: COMMON.zh.navPages,
        navRecognize: COMMON.zh.navRecognize,
        navLive: COMMON.zh.navLive,
        navHistory: COMMON.zh.navHistory,
        navTeach: COMMON.zh.navTeach,
        signOut: COMMON.zh.signOut,
        heading: "这张照片里有什么？",
        lede: "照片只留在这台电脑上，由本机运行的模型来识别。",
        dropTitle: "把照片或 ZIP 拖放到这里",
        dropSub: "或粘贴图片（Ctrl+V / \u2318V）",
        chooseFiles: "选择文件",
        takePhoto: "拍照",
        chosenFiles: "已选文件",
        clearAll: "全部清除",
        resultsRegion: "识别结果",
        footer: COMMON.zh.footer,
        apiDocs: "API 文档",
        examplesTitle: "手边没有照片？试试这些：",
        exampleTry: (caption) => `识别示例照片：${caption}`,
        examples: {
          coffee: "咖啡",
          chelsea: "猫",
          astronaut: "宇航员",
          rocket: "火箭",
          grace_hopper: "格蕾丝·霍珀",
        },
        exampleFailed: "无法从服务器加载示例照片。请刷新页面后重试。",
        bytes: (n) => `${n} B`,
        kb: (n) => `${n} KB`,
        mb: (n) => `${n} MB`,
        limits: (mb) => `支持 ${FORMATS_ZH} 格式的照片，每张最大 ${mb}；也可以上传装有照片的 ZIP。`,
        tooBig: (name, size, mb) => `${name} 太大（${size}）：服务器只接受 ${mb} 以内的照片。` +
          "请换一张较小的。",
        wrongTypeHint: `请选择 ${FORMATS_ZH} 图片，或装有这些图片的 ZIP。`,
        wrongTypeOne: (name, hint) => `${name} 不是照片，也不是 ZIP。${hint}`,
        wrongTypeMany: (n, names, hint) => `有 ${n} 个文件不是照片或 ZIP，已略过（${names}）。${hint}`,
        remove: (name) => `移除 ${name}`,
        removeTitle: "移除",
        zipTile: "ZIP",
        zipSize: (size) => `ZIP \u00b7 ${size}`,
        photos: (n) => `${n} 张照片`,
        zips: (n) => `${n} 个 ZIP`,
        files: (n) => `${n} 个文件`,
        and: (a, b) => `${a}和 ${b}`,
        chosen: (what) => `已选择 ${what}`,
        recognize: "识别",
        recognizing: "正在识别\u2026",
        notReadyTitle: "模型尚未就绪（见上方提示）。",
        chooseFirst: "请先选择照片。",
        recognizingFiles: (files) => `正在识别 ${files}\u2026`,
        sent: (done, files) => `正在识别\u2026 已发送 ${done}/${files}`,
        partial: "前面的文件已识别，结果见下方。",
        done: (files) => `完成：已识别 ${files}。`,
        doneSome: (files, failed) => `完成：已识别 ${files}，${failed} 个无法读取。`,
        nothing: "没有识别出任何文件。",
        resultTitle: "识别结果",
        resultsTitle: "识别结果",
        yourPhoto: (name) => `你的照片：${name}`,
        mostLikely: "最可能是",
        notSure: "不确定",
        maybeBefore: "可能是",
        maybeAfter: "？",
        notSureWhy: (percent, floor) => (floor
          ? `最有把握的猜测也只有 ${percent}，低于本服务确定答案所需的 ${floor}。以下是它最可能的几个猜测：`
          : `最有把握的猜测也只有 ${percent}，不足以确定。以下是它最可能的几个猜测：`),
        showGroups: "显示分组",
        showGroupsTitle: "同时给出所属的大类（猫、狗、鸟、汽车\u2026\u2026），即把各细分类别的概率相加",
        groupTitle: "分组",
        groupsOf: (name) => `${name} 所属的分组`,
        colGroup: "分组",
        readText: "识别文字",
        readTextTitle: "同时读出照片中的文字（中文和英文），并标出它们的位置",
        textTitle: "照片中的文字",
        textNone: COMMON.zh.textNone,
        textLinesOf: (n, name) => `${name} 中的 ${n} 行文字`,
        textConfidence: (percent) => `识别置信度 ${percent}`,
        textCopy: "复制文字",
        textCopyFailed: "这里无法复制：文字已选中，请按 Ctrl+C。",
        textOffHint: "关闭“识别文字”即可只识别照片的内容。",
        notices: {
          auto_offline: "本机没有 ResNet-18 的权重（离线），因此由内置的 efficientnet_lite0 识别。" +
            "获取权重：localvision weights fetch resnet18",
          auto_download_failed: "ResNet-18 的权重下载失败，因此由内置的 efficientnet_lite0 识别。" +
            "获取权重：localvision weights fetch resnet18",
        },
        rowText: COMMON.zh.rowText,
        topLabels: (n, name) => `${name} 最可能的 ${n} 个标签`,
        answeredBy: (model) => `识别模型：${model}`,
        ms: COMMON.zh.ms,
        couldNotRecognize: (name, why) => `无法识别 ${name}：${why}`,
        notRecognized: COMMON.zh.notRecognized,
        summary: (files, ok) => `共 ${files}，已识别 ${ok} 个`,
        summaryFailed: (text, failed) => `${text}，${failed} 个无法读取`,
        tableCaption: (summary) => `识别结果：${summary}`,
        colPhoto: "照片",
        colFile: "文件",
        colLabel: "识别结果",
        colConfidence: "置信度",
        colOther: "其他可能",
        downloadCsv: COMMON.zh.downloadCsv,
        modelLabel: "模型",
        modelNotReadyLabel: "模型（未就绪）",
        classesCount: (n) => `${n} 个类别`,
        speed: (ms) => `\u2248 ${ms} 毫秒/张`,
        accuracy: (percent) => `ImageNet 准确率 ${percent}%`,
        modelLoading: (name) => `${name}（正在加载\u2026）`,
        modelUnavailable: (name) => `${name}（不可用）`,
        unavailable: "暂时无法识别：",
        fixIt: "解决方法：运行 ",
        copy: "复制",
        copied: "已复制",
        checksAgain: "本页每隔几秒会自动重新检查。",
        loading: "模型正在加载。",
        loadingSoon: "几秒后就可以识别了。",
        notLoaded: "模型尚未加载。",
        unreachable: "无法连接 localvision 服务器。请确认它仍在运行，然后重试。",
        unreadable: "服务器返回的内容本页无法读取。请重试。",
        tryAgainSoon: "请过几秒再试。",
        serverProblem: (status) => `服务器出现问题（HTTP ${status}）。请重试；如果反复出现，请查看服务器日志。`,
        refused: (status) => `服务器拒绝了请求（HTTP ${status}）。`,
        notRecognizable: "无法识别这个文件。",
        wrong: "识别错了？",
        wrongTitle: "告诉它这到底是什么：这张照片会保存为这个模型的训练样本",
        itIs: "它是",
        itIsPlaceholder: "选一个标签，或输入新名称",
        saveExample: "保存",
        cancelExample: "取消",
        savingExample: "正在保存\u2026",
        savedExample: (label, model) => `已保存为 ${model} 的“${label}”样本。`,
        seeTeach: "在训练页查看",
        feedbackNoPhoto: "这里已无法再次读取这张照片；请重新选择它后再更正。",
      },
    },

    history: {
      en: {
        // the page itself (history.html, by data-i18n key)
        pageTitle: "localvision: history",
        skipLink: COMMON.en.skipLink,
        navPages: COMMON.en.navPages,
        navRecognize: COMMON.en.navRecognize,
        navLive: COMMON.en.navLive,
        navHistory: COMMON.en.navHistory,
        navTeach: COMMON.en.navTeach,
        signOut: COMMON.en.signOut,
        heading: "History",
        loading: "Loading\u2026",
        downloadCsv: COMMON.en.downloadCsv,
        filterRegion: "Search the history",
        filterLabel: "Top label contains",
        filterFile: "File name contains",
        filterText: "Text in the photo contains",
        textNone: COMMON.en.textNone,
        rowText: COMMON.en.rowText,
        filterFrom: "From",
        filterTo: "To",
        search: "Search",
        showAll: "Show all",
        tableCaption: "Recognitions, newest first",
        colTime: "Time",
        colFile: "File",
        colLabel: "Top label",
        colModel: "Model",
        colLatency: "Latency",
        colActions: "Actions",
        empty: "No recognitions yet. ", // the three make one sentence around the link
        emptyLink: "Recognize a photo",
        emptyAfter: " and it will show up here.",
        noMatch: "Nothing matches this search.",
        pagerRegion: "History pages",
        prev: "\u2190 Previous",
        next: "Next \u2192",
        confirmTitle: "Delete from the history?",
        cancel: "Cancel",
        confirmDelete: "Delete",
        footer: COMMON.en.footer,
        // counts and pages
        recognitions: (n) => (n === 1 ? "1 recognition" : `${n.toLocaleString("en")} recognitions`),
        showing: (first, last, of) => `Showing ${first}\u2013${last} of ${of}, newest first.`,
        showingMatching: (first, last, of) =>
          `Showing ${first}\u2013${last} of ${of} matching this search, newest first.`,
        nothingYet: "Nothing recognized yet.",
        nothingMatches: "Nothing matches this search.",
        pageOf: (page, pages) => `Page ${page} of ${pages}`,
        // rows
        notRecognized: COMMON.en.notRecognized,
        notRecognizedText: "Not recognized.",
        ms: COMMON.en.ms,
        deleteRow: "Delete",
        deleteRowLabel: (name) => `Delete ${name} from the history`,
        // deleting
        deleteAll: "Delete all",
        deleteMatching: "Delete all shown",
        confirmAll: (what) => `Delete all ${what}? This cannot be undone.`,
        confirmMatching: (what) =>
          `Delete the ${what} that match this search (on every page)? This cannot be undone.`,
        deleted: (name) => `Deleted \u201c${name}\u201d from the history.`,
        deletedMany: (what) => `Deleted ${what}.`,
        // errors, when the server sent no sentence of its own
        unreachable: "Could not reach the localvision server. Check that it is still running, " +
          "then reload this page.",
        loadFailed: (status) => `The history could not be loaded (HTTP ${status}). Try reloading the page.`,
        deleteFailed: (status) => `That could not be deleted (HTTP ${status}). Try again.`,
      },
      zh: {
        pageTitle: "localvision：历史记录",
        skipLink: COMMON.zh.skipLink,
        navPages: COMMON.zh.navPages,
        navRecognize: COMMON.zh.navRecognize,
        navLive: COMMON.zh.navLive,
        navHistory: COMMON.zh.navHistory,
        navTeach: COMMON.zh.navTeach,
        signOut: COMMON.zh.signOut,
        heading: "历史记录",
        loading: "正在加载\u2026",
        downloadCsv: COMMON.zh.downloadCsv,
        filterRegion: "搜索历史记录",
        filterLabel: "识别结果包含",
        filterFile: "文件名包含",
        filterText: "照片中的文字包含",
        textNone: COMMON.zh.textNone,
        rowText: COMMON.zh.rowText,
        filterFrom: "开始日期",
        filterTo: "结束日期",
        search: "搜索",
        showAll: "显示全部",
        tableCaption: "识别记录，最新的在前",
        colTime: "时间",
        colFile: "文件",
        colLabel: "识别结果",
        colModel: "模型",
        colLatency: "耗时",
        colActions: "操作",
        empty: "还没有识别记录。",
        emptyLink: "去识别一张照片",
        emptyAfter: "，它会出现在这里。",
        noMatch: "没有符合搜索条件的记录。",
        pagerRegion: "历史记录分页",
        prev: "\u2190 上一页",
        next: "下一页 \u2192",
        confirmTitle: "从历史记录中删除？",
        cancel: "取消",
        confirmDelete: "删除",
        footer: COMMON.zh.footer,
        recognitions: (n) => `${n.toLocaleString("zh-CN")} 条识别记录`,
        showing: (first, last, of) => `第 ${first}\u2013${last} 条，共 ${of}，最新的在前。`,
        showingMatching: (first, last, of) =>
          `符合搜索条件的共 ${of}，这是第 ${first}\u2013${last} 条，最新的在前。`,
        nothingYet: "还没有识别记录。",
        nothingMatches: "没有符合搜索条件的记录。",
        pageOf: (page, pages) => `第 ${page} 页，共 ${pages} 页`,
        notRecognized: COMMON.zh.notRecognized,
        notRecognizedText: "未能识别。",
        ms: COMMON.zh.ms,
        deleteRow: "删除",
        deleteRowLabel: (name) => `从历史记录中删除 ${name}`,
        deleteAll: "全部删除",
        deleteMatching: "删除全部搜索结果",
        confirmAll: (what) => `确定删除全部 ${what}吗？此操作无法撤销。`,
        confirmMatching: (what) => `确定删除符合搜索条件的 ${what}（包括所有页）吗？此操作无法撤销。`,
        deleted: (name) => `已从历史记录中删除“${name}”。`,
        deletedMany: (what) => `已删除 ${what}。`,
        unreachable: "无法连接 localvision 服务器。请确认它仍在运行，然后刷新本页。",
        loadFailed: (status) => `无法加载历史记录（HTTP ${status}）。请刷新页面重试。`,
        deleteFailed: (status) => `删除失败（HTTP ${status}）。请重试。`,
      },
    },

    live: {
      en: {
        pageTitle: "localvision: live camera",
        skipLink: COMMON.en.skipLink,
        navPages: COMMON.en.navPages,
        navRecognize: COMMON.en.navRecognize,
        navLive: COMMON.en.navLive,
        navHistory: COMMON.en.navHistory,
        navTeach: COMMON.en.navTeach,
        signOut: COMMON.en.signOut,
        heading: "Live camera",
        lede: "Point the camera at something: the model on this computer names what it sees, frame after frame.",
        footer: "localvision runs offline: the frames go to this server only, never to the internet.",
        resultRegion: "What the camera sees",
        topLabels: "The top labels",
        mostLikely: "Most likely",
        notSure: "Not sure",
        maybe: (label) => `maybe ${label}?`,
        pause: "Pause",
        resume: "Resume",
        modelLabel: "Model",
        starting: "Starting the camera\u2026",
        connecting: "Connecting to the server\u2026",
        live: "Live",
        paused: "Paused",
        waiting: "Waiting for the model\u2026",
        reconnecting: (s) => `The connection to the server was lost; trying again in ${s} s\u2026`,
        fps: (n) => `${n} frames/s`,
        noCameraApi: "This browser gives this page no camera. Cameras are offered only to secure " +
          "pages: open the service over https, or on this computer at http://localhost.",
        cameraDenied: "The camera may not be used: allow this page to use the camera in the " +
          "browser's settings, then reload it.",
        noCamera: "No camera was found on this device.",
        cameraBusy: "The camera is in use by another program, or could not be started.",
        cameraFailed: (why) => `The camera could not be started (${why}).`,
        unreachable: "Could not reach the localvision server. Check that it is still running.",
        badFrame: (why) => `A frame could not be recognized: ${why}`,
      },
      zh: {
        pageTitle: "localvision：实时摄像头",
        skipLink: COMMON.zh.skipLink,
        navPages: COMMON.zh.navPages,
        navRecognize: COMMON.zh.navRecognize,
        navLive: COMMON.zh.navLive,
        navHistory: COMMON.zh.navHistory,
        navTeach: COMMON.zh.navTeach,
        signOut: COMMON.zh.signOut,
        heading: "实时摄像头",
        lede: "把摄像头对准某样东西：本机运行的模型会一帧一帧地说出它看到了什么。",
        footer: "localvision 离线运行：画面只发送到这台服务器，不会发送到互联网。",
        resultRegion: "摄像头看到的内容",
        topLabels: "最可能的几个标签",
        mostLikely: "最可能是",
        notSure: "不确定",
        maybe: (label) => `可能是${label}？`,
        pause: "暂停",
        resume: "继续",
        modelLabel: "模型",
        starting: "正在启动摄像头\u2026",
        connecting: "正在连接服务器\u2026",
        live: "实时识别中",
        paused: "已暂停",
        waiting: "正在等待模型\u2026",
        reconnecting: (s) => `与服务器的连接已断开，${s} 秒后重试\u2026`,
        fps: (n) => `每秒 ${n} 帧`,
        noCameraApi: "浏览器没有向本页提供摄像头。只有安全的页面才能使用摄像头：请通过 https " +
          "打开本服务，或在这台电脑上用 http://localhost 打开。",
        cameraDenied: "不允许使用摄像头：请在浏览器设置中允许本页使用摄像头，然后刷新页面。",
        noCamera: "这台设备上没有找到摄像头。",
        cameraBusy: "摄像头正被其他程序使用，或无法启动。",
        cameraFailed: (why) => `无法启动摄像头（${why}）。`,
        unreachable: "无法连接 localvision 服务器。请确认它仍在运行。",
        badFrame: (why) => `有一帧画面无法识别：${why}`,
      },
    },

    teach: {
      en: {
        // the page itself (teach.html, by data-i18n key)
        pageTitle: "localvision: teach it your own classes",
        skipLink: COMMON.en.skipLink,
        navPages: COMMON.en.navPages,
        navRecognize: COMMON.en.navRecognize,
        navLive: COMMON.en.navLive,
        navHistory: COMMON.en.navHistory,
        navTeach: COMMON.en.navTeach,
        signOut: COMMON.en.signOut,
        heading: "Teach it your own classes",
        lede: "Name a few classes, give each some photos, and train a model of your own on this " +
          "computer. It then answers on the Recognize page like any other model.",
        adminOnly: "Only an admin can teach localvision new classes. Sign in as an admin to use this page.",
        projectsTitle: "Your models",
        projectsEmpty: "None yet: make the first one below.",
        createTitle: "A new model",
        nameLabel: "Name",
        namePlaceholder: "e.g. parts",
        nameHint: "Also the model's name: lower-case letters, digits, - _ .",
        titleLabel: "Title (optional, any language)",
        titlePlaceholder: "e.g. Bike parts",
        classesLabel: "Classes, separated by commas",
        classesPlaceholder: "e.g. bolt, nut, washer",
        create: "Create",
        deleteProject: "Delete its photos",
        photosHint: "Add photos to each class: drop them on it, choose them, take one with a " +
          "phone's camera, pick from the photos you recognized in this browser, or paste one " +
          "(Ctrl+V) into the class marked for pasting.",
        addClassLabel: "Another class",
        addClass: "Add the class",
        feedbackTitle: "Corrections from the Recognize page",
        feedbackCaption: "Photos people said were wrongly recognized, with what they really are",
        colPhoto: "Photo",
        colClass: "It is",
        colPredicted: "The model said",
        colWho: "Who",
        colWhen: "When",
        colActions: "Actions",
        trainTitle: "Train",
        baseLabel: "Start from",
        modeLabel: "How much to train",
        modeHead: "The last layer only (seconds)",
        modeFinetune: "The last layers too (minutes)",
        modeFull: "The whole model (slow)",
        trainButton: "Train",
        progressLabel: "Training progress",
        cancelTraining: "Cancel",
        epochsCaption: "Each epoch's loss and accuracy",
        colEpoch: "Epoch",
        colTrainLoss: "Loss",
        colTrainAcc: "Accuracy",
        colValLoss: "Validation loss",
        colValAcc: "Validation accuracy",
        reportTitle: "How well it learned",
        confusionAlt: "The confusion matrix of the validation photos",
        confusionCaption: "Confusion matrix: rows are the true classes, columns what the model said.",
        perClassCaption: "Precision and recall of each class on the validation photos",
        colClassName: "Class",
        colPrecision: "Precision",
        colRecall: "Recall",
        colSupport: "Photos",
        misclassifiedAlt: "The validation photos the model got wrong",
        misclassifiedCaption: "The validation photos it got wrong: the true class, then what it said.",
        noneWrong: "It recognized every validation photo correctly.",
        epochsCsv: "Each epoch's figures (CSV)",
        useIt: "Use it on the Recognize page",
        tryTitle: "Try it",
        tryDrop: "Drop a new photo here",
        chooseFiles: "Choose photos",
        cancel: "Cancel",
        confirmDelete: "Delete",
        recentEmpty: "No recent photos in this browser yet: the photos you recognize on the " +
          "Recognize page show up here.",
        recentAdd: "Add",
        footer: COMMON.en.footer,
        // projects
        classesCount: (n) => (n === 1 ? "1 class" : `${n} classes`),
        photosCount: (n) => (n === 1 ? "1 photo" : `${n} photos`),
        trained: (accuracy) => `trained, ${accuracy} on its validation photos`,
        trainedNoFigure: "trained",
        notTrained: "not trained yet",
        trainingNow: "training now",
        facts: (parts) => parts.join(" \u00b7 "),
        baseIs: (base) => `starts from ${base}`,
        created: (name) => `Made \u201c${name}\u201d. Now give each class some photos.`,
        noName: "Give the model a name first.",
        deletedProject: (name) => `Deleted the photos and classes of \u201c${name}\u201d.`,
        confirmProjectTitle: "Delete its photos?",
        confirmProject: (name) => `Delete every photo and class of \u201c${name}\u201d? A model ` +
          "trained from them stays installed. This cannot be undone.",
        // classes
        dropHere: "Drop photos here",
        choose: "Choose",
        takePhoto: "Take photo",
        fromRecent: "From recent photos",
        pasteHere: "Paste here",
        pasteTarget: "Ctrl+V pastes here",
        pasteTitle: (name) => `Paste photos into \u201c${name}\u201d`,
        noPhotos: "No photos yet.",
        deleteClass: "Delete the class",
        deleteClassLabel: (name) => `Delete the class \u201c${name}\u201d`,
        deletePhoto: (name) => `Delete this photo of \u201c${name}\u201d`,
        confirmClassTitle: "Delete this class?",
        confirmClass: (name, photos) => `Delete the class \u201c${name}\u201d and its ${photos}? ` +
          "This cannot be undone.",
        deletedClass: (name) => `Deleted the class \u201c${name}\u201d.`,
        addedClass: (name) => `Added the class \u201c${name}\u201d.`,
        adding: (photos, name) => `Adding ${photos} to \u201c${name}\u201d\u2026`,
        added: (photos, name) => `Added ${photos} to \u201c${name}\u201d.`,
        notAdded: (file, why) => `${file} was not added: ${why}`,
        wrongType: (file) => `${file} is not a photo (${FORMATS_EN}).`,
        tooBig: (file, mb) => `${file} is too large: the server accepts photos up to ${mb}.`,
        mb: (n) => `${n} MB`,
        recentTitle: (name) => `Recent photos for \u201c${name}\u201d`,
        recentPick: (file) => `Pick ${file}`,
        // corrections
        someone: "this computer",
        // training
        needTwoClasses: "A model needs at least 2 classes.",
        needPhotos: (name) => `\u201c${name}\u201d needs at least 2 photos.`,
        busyElsewhere: (name) => `\u201c${name}\u201d is training now; one training runs at a time.`,
        showIt: "Show it",
        queued: "Waiting to start\u2026",
        starting: "Starting\u2026",
        features: (done, total) => `Looking at the photos: ${done} of ${total}`,
        training: "Training\u2026",
        epochOf: (epoch, epochs) => `Training: epoch ${epoch} of ${epochs}`,
        writingReport: "Writing the report\u2026",
        saving: "Saving the model\u2026",
        cancelling: "Cancelling\u2026",
        done: "Done: the model is trained.",
        doneEarly: "Done: it stopped early, once it no longer got better.",
        doneInterrupted: "Stopped: the best model so far was kept.",
        failed: (why) => `The training failed: ${why}`,
        failedNoReason: "The training failed.",
        cancelled: "Cancelled: nothing was saved.",
        figEpoch: "Epoch",
        figLoss: "Loss",
        figAccuracy: "Accuracy",
        figValAccuracy: "Validation accuracy",
        figLeft: "Time left",
        figPhotos: "Photos",
        photosSplit: (train, val) => `${train} to learn from, ${val} to check`,
        seconds: (s) => `about ${s} s`,
        minutes: (m, s) => `about ${m} min ${s} s`,
        best: "best",
        // the report
        summary: (accuracy, val) => `Validation accuracy: ${accuracy} on ${val}.`,
        summaryBest: (epoch) => `The model kept is the one of epoch ${epoch}.`,
        skipped: (n) => (n === 1 ? "1 file could not be read and was left out."
          : `${n} files could not be read and were left out.`),
        showPercentages: "Show each row as percentages",
        showCounts: "Show the counts",
        reportFailed: (why) => `The report could not be loaded: ${why}`,
        modelLoading: (name) => `Loading ${name} so it can answer\u2026`,
        // try it
        trying: (photos) => `Recognizing ${photos}\u2026`,
        tryFailed: (file, why) => `${file}: ${why}`,
        // errors, when the server sent no sentence of its own
        unreachable: "Could not reach the localvision server. Check that it is still running, then try again.",
        unreadable: "The server sent an answer this page cannot read. Try again.",
        serverProblem: (status) => `The server ran into a problem (HTTP ${status}). Try again; if it ` +
          "keeps happening, look at the server's log.",
        refused: (status) => `The server refused the request (HTTP ${status}).`,
      },
      zh: {
        pageTitle: "localvision：训练自己的类别",
        skipLink: COMMON.zh.skipLink,
        navPages: COMMON.zh.navPages,
        navRecognize: COMMON.zh.navRecognize,
        navLive: COMMON.zh.navLive,
        navHistory: COMMON.zh.navHistory,
        navTeach: COMMON.zh.navTeach,
        signOut: COMMON.zh.signOut,
        heading: "教它认识你自己的类别",
        lede: "起几个类别名，给每个类别几张照片，就能在这台电脑上训练出你自己的模型。训练好后，它会像其他模型一样在识别页回答。",
        adminOnly: "只有管理员才能训练新的类别。请以管理员身份登录后使用本页。",
        projectsTitle: "你的模型",
        projectsEmpty: "还没有：在下面建立第一个。",
        createTitle: "新建模型",
        nameLabel: "名称",
        namePlaceholder: "例如 parts",
        nameHint: "也是模型的名称：小写字母、数字、- _ .",
        titleLabel: "标题（可选，任何语言）",
        titlePlaceholder: "例如 自行车零件",
        classesLabel: "类别，用逗号分隔",
        classesPlaceholder: "例如 螺栓，螺母，垫圈",
        create: "新建",
        deleteProject: "删除它的照片",
        photosHint: "给每个类别添加照片：拖放到类别上、选择文件、用手机摄像头拍照、从这个浏览器最近识别过的照片中挑选，或粘贴（Ctrl+V）到标记为粘贴目标的类别。",
        addClassLabel: "再加一个类别",
        addClass: "添加类别",
        feedbackTitle: "来自识别页的更正",
        feedbackCaption: "有人指出识别错误的照片，以及它们实际是什么",
        colPhoto: "照片",
        colClass: "实际是",
        colPredicted: "模型当时说",
        colWho: "提交人",
        colWhen: "时间",
        colActions: "操作",
        trainTitle: "训练",
        baseLabel: "基础模型",
        modeLabel: "训练多少",
        modeHead: "只训练最后一层（几秒钟）",
        modeFinetune: "连同最后几层一起训练（几分钟）",
        modeFull: "训练整个模型（很慢）",
        trainButton: "开始训练",
        progressLabel: "训练进度",
        cancelTraining: "取消",
        epochsCaption: "每一轮的损失和准确率",
        colEpoch: "轮次",
        colTrainLoss: "损失",
        colTrainAcc: "准确率",
        colValLoss: "验证损失",
        colValAcc: "验证准确率",
        reportTitle: "学得怎么样",
        confusionAlt: "验证照片的混淆矩阵",
        confusionCaption: "混淆矩阵：行是真实类别，列是模型给出的类别。",
        perClassCaption: "每个类别在验证照片上的精确率和召回率",
        colClassName: "类别",
        colPrecision: "精确率",
        colRecall: "召回率",
        colSupport: "照片数",
        misclassifiedAlt: "模型识别错的验证照片",
        misclassifiedCaption: "识别错的验证照片：先是真实类别，再是模型给出的类别。",
        noneWrong: "所有验证照片都识别正确。",
        epochsCsv: "每一轮的数据（CSV）",
        useIt: "在识别页使用它",
        tryTitle: "试一试",
        tryDrop: "把一张新照片拖放到这里",
        chooseFiles: "选择照片",
        cancel: "取消",
        confirmDelete: "删除",
        recentEmpty: "这个浏览器里还没有最近的照片：你在识别页识别过的照片会出现在这里。",
        recentAdd: "添加",
        footer: COMMON.zh.footer,
        classesCount: (n) => `${n} 个类别`,
        photosCount: (n) => `${n} 张照片`,
        trained: (accuracy) => `已训练，验证准确率 ${accuracy}`,
        trainedNoFigure: "已训练",
        notTrained: "尚未训练",
        trainingNow: "正在训练",
        facts: (parts) => parts.join(" \u00b7 "),
        baseIs: (base) => `基础模型 ${base}`,
        created: (name) => `已建立“${name}”。现在给每个类别添加一些照片。`,
        noName: "请先给模型起个名称。",
        deletedProject: (name) => `已删除“${name}”的照片和类别。`,
        confirmProjectTitle: "删除它的照片？",
        confirmProject: (name) => `确定删除“${name}”的全部照片和类别吗？用它们训练出的模型仍会保留。此操作无法撤销。`,
        dropHere: "把照片拖放到这里",
        choose: "选择",
        takePhoto: "拍照",
        fromRecent: "从最近的照片中选",
        pasteHere: "粘贴到这里",
        pasteTarget: "Ctrl+V 会粘贴到这里",
        pasteTitle: (name) => `把照片粘贴到“${name}”`,
        noPhotos: "还没有照片。",
        deleteClass: "删除类别",
        deleteClassLabel: (name) => `删除类别“${name}”`,
        deletePhoto: (name) => `删除“${name}”的这张照片`,
        confirmClassTitle: "删除这个类别？",
        confirmClass: (name, photos) => `确定删除类别“${name}”及其 ${photos}吗？此操作无法撤销。`,
        deletedClass: (name) => `已删除类别“${name}”。`,
        addedClass: (name) => `已添加类别“${name}”。`,
        adding: (photos, name) => `正在把 ${photos}添加到“${name}”\u2026`,
        added: (photos, name) => `已把 ${photos}添加到“${name}”。`,
        notAdded: (file, why) => `${file} 没有添加：${why}`,
        wrongType: (file) => `${file} 不是照片（支持 ${FORMATS_ZH}）。`,
        tooBig: (file, mb) => `${file} 太大：服务器只接受 ${mb} 以内的照片。`,
        mb: (n) => `${n} MB`,
        recentTitle: (name) => `为“${name}”挑选最近的照片`,
        recentPick: (file) => `选择 ${file}`,
        someone: "本机",
        needTwoClasses: "一个模型至少需要 2 个类别。",
        needPhotos: (name) => `“${name}”至少需要 2 张照片。`,
        busyElsewhere: (name) => `“${name}”正在训练；同一时间只能进行一个训练。`,
        showIt: "查看",
        queued: "等待开始\u2026",
        starting: "正在启动\u2026",
        features: (done, total) => `正在查看照片：${done}/${total}`,
        training: "正在训练\u2026",
        epochOf: (epoch, epochs) => `正在训练：第 ${epoch}/${epochs} 轮`,
        writingReport: "正在生成报告\u2026",
        saving: "正在保存模型\u2026",
        cancelling: "正在取消\u2026",
        done: "完成：模型已训练好。",
        doneEarly: "完成：效果不再提升，已提前停止。",
        doneInterrupted: "已停止：保留了目前最好的模型。",
        failed: (why) => `训练失败：${why}`,
        failedNoReason: "训练失败。",
        cancelled: "已取消：没有保存任何内容。",
        figEpoch: "轮次",
        figLoss: "损失",
        figAccuracy: "准确率",
        figValAccuracy: "验证准确率",
        figLeft: "剩余时间",
        figPhotos: "照片",
        photosSplit: (train, val) => `${train} 张用于学习，${val} 张用于检验`,
        seconds: (s) => `约 ${s} 秒`,
        minutes: (m, s) => `约 ${m} 分 ${s} 秒`,
        best: "最佳",
        summary: (accuracy, val) => `验证准确率：${accuracy}（共 ${val}）。`,
        summaryBest: (epoch) => `保留的是第 ${epoch} 轮的模型。`,
        skipped: (n) => `有 ${n} 个文件无法读取，已略过。`,
        showPercentages: "按每行的百分比显示",
        showCounts: "显示数量",
        reportFailed: (why) => `无法加载报告：${why}`,
        modelLoading: (name) => `正在加载 ${name}，加载后即可识别\u2026`,
        trying: (photos) => `正在识别 ${photos}\u2026`,
        tryFailed: (file, why) => `${file}：${why}`,
        unreachable: "无法连接 localvision 服务器。请确认它仍在运行，然后重试。",
        unreadable: "服务器返回的内容本页无法读取。请重试。",
        serverProblem: (status) => `服务器出现问题（HTTP ${status}）。请重试；如果反复出现，请查看服务器日志。`,
        refused: (status) => `服务器拒绝了请求（HTTP ${status}）。`,
      },
    },

    auth: {
      en: {
        admin: (user) => `${user} (admin)`,
      },
      zh: {
        admin: (user) => `${user}（管理员）`,
      },
    },

    login: {
      en: {
        pageTitle: "localvision: sign in",
        heading: "Sign in",
        lede: "This localvision server asks who you are.",
        username: "User name",
        password: "Password",
        signIn: "Sign in",
        helpBefore: "No account? The person who runs this server can make one with",
        helpAfter: ".",
      },
      zh: {
        pageTitle: "localvision：登录",
        heading: "登录",
        lede: "这台 localvision 服务器需要确认你的身份。",
        username: "用户名",
        password: "密码",
        signIn: "登录",
        helpBefore: "还没有账号？请服务器管理员运行",
        helpAfter: " 为你创建一个。", // after the command, so a space first
      },
    },
  };

  // ---------------------------------------------------------------------------------------------
  // Translating

  /** Keys of `english` that `table` lacks or holds as another kind (and keys it has extra). */
  function mismatches(english, table, prefix) {
    const out = [];
    for (const [key, value] of Object.entries(english)) {
      const other = table[key];
      if (typeof other !== typeof value) out.push(prefix + key);
      else if (value && typeof value === "object") out.push(...mismatches(value, other, `${prefix}${key}.`));
    }
    for (const key of Object.keys(table)) if (!(key in english)) out.push(`${prefix}${key} (extra)`);
    return out;
  }

  if (lang === "zh") {
    window.localvisionLocalize = (english, name) => {
      const table = STRINGS[name] && STRINGS[name].zh;
      if (!table) {
        console.error(`localvision: no Chinese strings for ${name}`);
        return {};
      }
      for (const key of mismatches(english, table, "")) {
        console.error(`localvision: the Chinese strings of ${name} do not match at ${key}`);
      }
      return table;
    };
  }

  /** The strings of one script (a key of STRINGS) in the page's language: its English table,
   * overlaid with the translation window.localvisionLocalize gives (if any). */
  function strings(name) {
    const english = STRINGS[name] ? STRINGS[name].en : null;
    if (!english) {
      console.error(`localvision: no strings named ${name}`);
      return {};
    }
    const translate = window.localvisionLocalize;
    return typeof translate === "function" ? { ...english, ...translate(english, name) } : english;
  }

  const T = strings("i18n");

  /** The sentence for an error code in the page's language, or null for a code not known here. */
  function codeText(code, context) {
    const known = code && Object.prototype.hasOwnProperty.call(T.errors, code) ? T.errors[code] : null;
    if (!known) return null;
    return typeof known === "function" ? known(context || {}) : known;
  }

  /** The sentence for an error the server sent ({code, message, retry_after?}): in English its
   * own message; in another language the sentence for its code, or its message for a code not
   * known here; the code's sentence when it sent no message; null when there is nothing. */
  function errorText(error, context) {
    if (!error || typeof error !== "object") return null;
    const code = typeof error.code === "string" ? error.code : null;
    const message = typeof error.message === "string" ? error.message.trim() : "";
    const wait = Number(error.retry_after);
    const known = codeText(code, { ...(wait > 0 ? { seconds: wait } : {}), ...(context || {}) });
    if (known && (lang !== "en" || !message)) return known;
    return message || null;
  }

  /** Save the choice and show the page again in it. A page that came from a POST (a failed
   * sign-in) sets I18N.reloadAddress to the address that shows it by a GET. */
  function choose(next) {
    if (next === lang || !LANGUAGES[next]) return;
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch (err) {
      return; // nowhere to keep the choice: a reload would forget it, so stay as we are
    }
    const address = I18N.reloadAddress ? I18N.reloadAddress() : null;
    if (address) location.replace(address);
    else location.reload();
  }

  // ---------------------------------------------------------------------------------------------
  // The switch, at the end of the page header

  function addSwitch() {
    const header = document.querySelector(".site-header .header-row");
    if (!header || header.querySelector(".lang-switch")) return;
    const group = document.createElement("div");
    group.className = "lang-switch";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", T.languageSwitch);
    group.dataset.testid = "lang-switch";
    for (const [code, { name, tag }] of Object.entries(LANGUAGES)) {
      const button = document.createElement("button");
      button.type = "button";
      button.lang = tag; // read out, and drawn, in its own language
      button.dataset.lang = code;
      button.setAttribute("aria-pressed", String(code === lang));
      button.textContent = name;
      button.addEventListener("click", () => choose(code));
      group.append(button);
    }
    header.append(group);
  }

  const I18N = {
    lang, // "zh" | "en"
    locale, // for dates and numbers (toLocaleString)
    languages: Object.keys(LANGUAGES),
    errorCodes: Object.keys(T.errors),
    tables: Object.keys(STRINGS), // the scripts that have strings here
    strings,
    codeText,
    errorText,
    choose,
    reloadAddress: null,
  };
  window.localvisionI18n = I18N;

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", addSwitch);
  else addSwitch();
})();

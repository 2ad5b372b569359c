*** Settings ***
Documentation     Every keyword against a real service; every test here passes.
Library           LocalVision    ${URL}    api_key=${KEY}

*** Variables ***
${URL}            http://127.0.0.1:8000
${KEY}            ${EMPTY}
${PHOTOS}         photos
${SIGN}           sign.jpg

*** Test Cases ***
Classify A Photo
    ${answer}=    Classify Image    ${PHOTOS}/chelsea.jpg    top_k=3
    Should Be Equal    ${answer}[predictions][0][label]    tiger cat
    Length Should Be    ${answer}[predictions]    3

The Cat Photo Shows A Cat
    ${verdict}=    Image Should Show    ${PHOTOS}/chelsea.jpg    cat    min_confidence=0.8
    Should Be Equal    ${verdict}[label]    cat

The Coffee Photo Does Not Show A Dog Or A Cat
    Image Should Not Show    ${PHOTOS}/coffee.jpg    dog, cat

Judge By A Saved Rule
    ${verdict}=    Judge Image    ${PHOTOS}/coffee.jpg    rule=drinks
    Should Be True    ${verdict}[pass]
    Should Be Equal    ${verdict}[outcome]    accepted
    ${verdict}=    Judge Image    ${PHOTOS}/chelsea.jpg    rule=drinks
    Should Not Be True    ${verdict}[pass]
    Should Contain    ${verdict}[reason]    tiger cat

Read The Sign
    ${lines}=    Read Text In Image    ${SIGN}
    Should Be Equal    ${lines}[0]    禁止吸烟
    Should Be Equal    ${lines}[1]    No Smoking
    Image Should Contain Text    ${SIGN}    no smoking
